/* Execution helpers shared by the reference interpreter and the plan executor. */
#ifndef DS_EXEC_EXEC_H
#define DS_EXEC_EXEC_H
#include "dynastat.h"

/* Prints `prefix` and the tensors as Python's print(prefix, *vals) would, through the print hook. */
ds_status ds_exec_print(const char *prefix, int n, ds_tensor *const *vals);
#endif
