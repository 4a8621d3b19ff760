/* train.h — `fashion train`: train the MLP or the CNN on Fashion-MNIST in C.
 *
 *   fashion train --model mlp|cnn --out FILE [--epochs N] [--batch-size B]
 *                 [--optimizer sgd|adam|adamw] [--lr LR] [--seed S]
 *                 [--threads T] [--data DIR] [--resume CKPT]
 *
 * Returns the exit status: 0 success, 1 failure, 2 bad command line. */
#ifndef FASHION_TRAIN_H
#define FASHION_TRAIN_H

int fashion_train_main(int argc, char **argv);

#endif
