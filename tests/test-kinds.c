/* Unit tests for the kinds table: every row is whole, every kind it names exists, teardown order
 * agrees with what each deletion waits for, and the waits have no cycle (a cycle would leave
 * bootstrap or teardown waiting for nothing: the pool skips such steps). */
#include "core/kinds.h"
#include "test-init.h"

static gboolean
in_table (const char *kind)
{
  return ferry_kind_lookup (kind) != NULL;
}

static void
test_rows (void)
{
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    {
      g_test_message ("kind %s", k->kind);
      g_assert_nonnull (k->label);
      /* Everything ferry can make, teardown can delete. */
      g_assert_nonnull (k->delete);
      /* Made by its own ensure, or by the one of the kind it comes with; never both. */
      g_assert_true ((k->ensure != NULL) != (k->made_with != NULL));
      if (k->made_with != NULL)
        {
          g_assert_true (in_table (k->made_with));
          g_assert_nonnull (ferry_kind_lookup (k->made_with)->ensure);
        }
      for (guint i = 0; k->ensure_after != NULL && k->ensure_after[i] != NULL; i++)
        g_assert_true (in_table (k->ensure_after[i]));
      for (guint i = 0; k->delete_after != NULL && k->delete_after[i] != NULL; i++)
        {
          /* What must go first comes first in teardown order. */
          g_assert_true (in_table (k->delete_after[i]));
          g_assert_cmpuint (ferry_kind_rank (k->delete_after[i]), <, ferry_kind_rank (k->kind));
        }
      g_assert_cmpstr (ferry_kind_label (k->kind), ==, k->label);
    }
  g_assert_null (ferry_kind_lookup ("no-such-kind"));
  g_assert_cmpstr (ferry_kind_label ("no-such-kind"), ==, "no-such-kind");
}

/* Depth-first search for a cycle through ensure_after (a made_with kind counts as its maker). */
static gboolean
reaches (const char *from, const char *to, guint depth)
{
  const FerryKind *k = ferry_kind_lookup (from);

  g_assert_cmpuint (depth, <, 64);
  if (k->made_with != NULL)
    k = ferry_kind_lookup (k->made_with);
  for (guint i = 0; k->ensure_after != NULL && k->ensure_after[i] != NULL; i++)
    if (g_str_equal (k->ensure_after[i], to) || reaches (k->ensure_after[i], to, depth + 1))
      return TRUE;
  return FALSE;
}

static void
test_no_cycle (void)
{
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (k->ensure != NULL)
      g_assert_false (reaches (k->kind, k->kind, 0));
}

/* The promises the table carries: what bills, who names what, what the state records. */
static void
test_promises (void)
{
  const char *billing[] = { FERRY_KIND_INSTANCE, FERRY_KIND_VOLUME, FERRY_KIND_BUCKET };

  for (guint i = 0; i < G_N_ELEMENTS (billing); i++)
    g_assert_true (ferry_kind_lookup (billing[i])->bills);
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (k->bills)
      {
        /* Nothing that bills is made before the budget watches. */
        const FerryKind *maker = k->made_with ? ferry_kind_lookup (k->made_with) : k;
        g_assert_true (reaches (maker->kind, FERRY_KIND_BUDGET, 0));
      }
  g_assert_true (ferry_kind_lookup (FERRY_KIND_INSTANCE)->aws_names_it);
  g_assert_false (ferry_kind_lookup (FERRY_KIND_ROLE)->aws_names_it);
  g_assert_false (ferry_kind_lookup (FERRY_KIND_PEM)->in_state);
  g_assert_false (ferry_kind_lookup (FERRY_KIND_VOLUME)->in_state);
  /* The budget goes last: until then it still watches. */
  g_assert_cmpuint (ferry_kind_rank (FERRY_KIND_BUDGET), >, ferry_kind_rank (FERRY_KIND_VPC));
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/kinds/rows", test_rows);
  g_test_add_func ("/kinds/no-cycle", test_no_cycle);
  g_test_add_func ("/kinds/promises", test_promises);
  return g_test_run ();
}
