/* Fuzz target: snakemake's job records (JSON lines from templates/snakemake-jobs.py) into a plan. */
#include <stdint.h>

#include "core/snakemake.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* No disk access: a path "exists" when its length is odd, so both branches are taken. */
static gboolean
odd_exists (const char *path, gpointer user_data)
{
  return strlen (path) % 2 == 1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryPlan) plan = ferry_snakemake_plan_from_records ((const char *) data, size, "/w/f",
                                                                 odd_exists, NULL, &error);

  g_assert ((plan == NULL) == (error != NULL));
  if (plan != NULL)
    for (guint i = 0; plan->inputs[i] != NULL; i++)
      g_assert (plan->inputs[i][0] != '/' && !g_str_has_prefix (plan->inputs[i], "../"));
  return 0;
}
