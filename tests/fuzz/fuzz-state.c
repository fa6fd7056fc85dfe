/* Fuzz target: the state file parser and validator. */
#include <stdint.h>

#include "core/state.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) root = ferry_state_parse ((const char *) data, size, &error);

  g_assert ((root == NULL) == (error != NULL));
  return 0;
}
