/* dataset.c — what makes a pair of IDX files an MNIST test set. */
#include "dataset.h"

mt_status mnist_check_dataset(const mt_idx *images, const char *images_name,
                              const mt_idx *labels, const char *labels_name)
{
    return classifier_check_dataset(images, images_name, labels, labels_name,
                                    MNIST_LABEL_KIND);
}
