/* dataset.c — Fashion-MNIST's class names, and what makes a pair of IDX
 * files a Fashion-MNIST set. */
#include "dataset.h"

/* Zalando's label order (train/README.md, data/reference.json). */
const char *const fashion_class_names[FASHION_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

mt_status fashion_check_dataset(const mt_idx *images, const char *images_name,
                                const mt_idx *labels, const char *labels_name)
{
    return classifier_check_dataset(images, images_name, labels, labels_name,
                                    FASHION_LABEL_KIND);
}
