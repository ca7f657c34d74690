/* Transitional: the pool lives in src/base/threadpool.h (the tensor layer's iterator uses it). */
#include "base/threadpool.h"
