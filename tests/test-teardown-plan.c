/* Unit tests for teardown's plan (what is deleted, what is kept and why), ages and the billing
 * line. */
#include "core/teardown.h"
#include "test-init.h"

static FerryFound *
live (const char *kind, const char *id, const char *owner)
{
  FerryFound *f = g_new0 (FerryFound, 1);

  f->kind = g_strdup (kind);
  f->id = g_strdup (id);
  f->owner = g_strdup (owner);
  f->live = TRUE;
  return f;
}

static const FerryFound *
find (GPtrArray *plan, const char *kind, const char *id)
{
  for (guint i = 0; i < plan->len; i++)
    {
      const FerryFound *f = plan->pdata[i];
      if (g_str_equal (f->kind, kind) && g_str_equal (f->id, id))
        return f;
    }
  return NULL;
}

static void
test_merge (void)
{
  g_autoptr(json_t) resources
      = json_pack ("{s:{s:s, s:b}, s:{s:s, s:b}, s:{s:s, s:s, s:b}, s:{s:s, s:b, s:s}, s:{s:s, "
                   "s:b}, s:{s:s, s:b}}",
                   "vpc", "id", "vpc-default", "created", 0, "bucket", "id", "untagged-bucket",
                   "created", 1, "key_pair", "id", "key-gone", "name", "demo", "created", 1, "role",
                   "id", "demo-ec2", "created", 1, "policy", "demo-s3", "security_group", "id",
                   "sg-state", "created", 1, "instance", "id", "i-1", "created", 1);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_found_free);
  g_autoptr(GPtrArray) plan = NULL;
  FerryFound *f;
  const FerryFound *p;

  /* The role in the state has lost ferry's tag: not ferry's any more. */
  g_ptr_array_add (found, live (FERRY_KIND_ROLE, "demo-ec2", NULL));
  /* Tagged, not in the state: deleted. */
  g_ptr_array_add (found, live (FERRY_KIND_SECURITY_GROUP, "sg-tagged", "demo"));
  /* Another name's, and an untagged profile: never in the plan. */
  g_ptr_array_add (found, live (FERRY_KIND_SECURITY_GROUP, "sg-other", "other"));
  g_ptr_array_add (found, live (FERRY_KIND_INSTANCE_PROFILE, "demo-profile", NULL));
  /* The default VPC, tagged by mistake, and the adopted one with a tag. */
  f = live (FERRY_KIND_VPC, "vpc-tagged-default", "demo");
  f->is_default = TRUE;
  g_ptr_array_add (found, f);
  f = live (FERRY_KIND_VPC, "vpc-default", "demo");
  f->is_default = TRUE;
  g_ptr_array_add (found, f);
  /* A VPC ferry made (tagged, not default) and a volume that goes with its instance. */
  g_ptr_array_add (found, live (FERRY_KIND_VPC, "vpc-made", "demo"));
  f = live (FERRY_KIND_INSTANCE, "i-1", "demo");
  f->members = g_strsplit ("vol-root", ",", -1);
  g_ptr_array_add (found, f);
  f = live (FERRY_KIND_VOLUME, "vol-root", "demo");
  f->parent = g_strdup ("i-1");
  g_ptr_array_add (found, f);
  f = live (FERRY_KIND_VOLUME, "vol-extra", "demo");
  g_ptr_array_add (found, f);

  plan = ferry_teardown_merge ("demo", resources, found, NULL);

  p = find (plan, FERRY_KIND_ROLE, "demo-ec2");
  g_assert_nonnull (p);
  g_assert_true (p->keep);
  g_assert_cmpstr (p->note, ==, "exists without ferry's tag: left alone");
  p = find (plan, FERRY_KIND_KEY_PAIR, "key-gone");
  g_assert_true (p->keep);
  g_assert_cmpstr (p->note, ==, "already gone");
  p = find (plan, FERRY_KIND_BUCKET, "untagged-bucket");
  g_assert_false (p->keep); /* the state says ferry created it: bucket names are not reused */
  g_assert_false (find (plan, FERRY_KIND_SECURITY_GROUP, "sg-tagged")->keep);
  g_assert_false (find (plan, FERRY_KIND_SECURITY_GROUP, "sg-state")->keep);
  g_assert_null (find (plan, FERRY_KIND_SECURITY_GROUP, "sg-other"));
  g_assert_null (find (plan, FERRY_KIND_INSTANCE_PROFILE, "demo-profile"));
  g_assert_true (find (plan, FERRY_KIND_VPC, "vpc-tagged-default")->keep);
  p = find (plan, FERRY_KIND_VPC, "vpc-default");
  g_assert_true (p->keep);
  g_assert_cmpstr (p->note, ==, "adopted, not created by ferry");
  g_assert_false (find (plan, FERRY_KIND_VPC, "vpc-made")->keep);
  p = find (plan, FERRY_KIND_VOLUME, "vol-root");
  g_assert_false (p->keep);
  g_assert_cmpstr (p->note, ==, "deleted with its instance");
  g_assert_null (find (plan, FERRY_KIND_VOLUME, "vol-extra")->note);

  /* Reverse dependency order: the instance first, the VPCs last. */
  g_assert_cmpstr (((FerryFound *) plan->pdata[0])->kind, ==, FERRY_KIND_INSTANCE);
  g_assert_cmpstr (((FerryFound *) plan->pdata[plan->len - 1])->kind, ==, FERRY_KIND_VPC);
  for (guint i = 1; i < plan->len; i++)
    {
      const FerryFound *a = plan->pdata[i - 1], *b = plan->pdata[i];
      g_assert_false (g_str_equal (a->kind, FERRY_KIND_VPC)
                      && g_str_equal (b->kind, FERRY_KIND_SECURITY_GROUP));
      g_assert_false (g_str_equal (a->kind, FERRY_KIND_SECURITY_GROUP)
                      && g_str_equal (b->kind, FERRY_KIND_INSTANCE));
    }
}

static void
test_describe (void)
{
  g_autoptr(FerryFound) f = live (FERRY_KIND_INSTANCE, "i-9", "demo");
  g_autofree char *line = NULL;

  f->aws_name = g_strdup ("demo");
  f->state = g_strdup ("running");
  line = ferry_teardown_item_describe (f);
  g_assert_cmpstr (line, ==, "terminate instance i-9 (demo, running)");
}

static void
test_age (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_utc (2026, 1, 10, 12, 0, 0);
  g_autoptr(GDateTime) a = g_date_time_new_utc (2026, 1, 10, 11, 59, 30);
  g_autoptr(GDateTime) b = g_date_time_new_utc (2026, 1, 10, 11, 15, 0);
  g_autoptr(GDateTime) c = g_date_time_new_utc (2026, 1, 10, 2, 0, 0);
  g_autoptr(GDateTime) d = g_date_time_new_utc (2026, 1, 1, 12, 0, 0);
  g_autoptr(GDateTime) future = g_date_time_new_utc (2026, 1, 10, 12, 0, 5);
  const struct
  {
    GDateTime *t;
    const char *want;
  } cases[]
      = { { a, "30s" }, { b, "45m" }, { c, "10h" }, { d, "9d" }, { future, "0s" }, { NULL, "-" } };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *age = ferry_format_age (cases[i].t, now);
      g_assert_cmpstr (age, ==, cases[i].want);
    }
}

static void
test_bill (void)
{
  FerryBill bill = { 0 };
  g_autofree char *none = ferry_bill_describe (&bill);
  g_autofree char *some = NULL;
  g_autoptr(FerryFound) running = live (FERRY_KIND_INSTANCE, "i-1", "x");
  g_autoptr(FerryFound) stopped = live (FERRY_KIND_INSTANCE, "i-2", "x");
  g_autoptr(FerryFound) volume = live (FERRY_KIND_VOLUME, "vol-1", "x");
  g_autoptr(FerryFound) group = live (FERRY_KIND_SECURITY_GROUP, "sg-1", "x");

  g_assert_cmpstr (none, ==, "nothing is billing");
  running->state = g_strdup ("running");
  stopped->state = g_strdup ("stopped");
  volume->size_gb = 200;
  ferry_bill_add (&bill, running);
  ferry_bill_add (&bill, stopped);
  ferry_bill_add (&bill, volume);
  ferry_bill_add (&bill, group);
  some = ferry_bill_describe (&bill);
  g_assert_cmpstr (
      some, ==,
      "1 running instance bills by the second; 1 stopped instance (compute does not bill, its "
      "volume does); 1 volume (200 GB) bills by the GB-month");

  bill = (FerryBill){ 0 };
  ferry_bill_add (&bill, group);
  g_free (some);
  some = ferry_bill_describe (&bill);
  g_assert_true (g_str_has_prefix (some, "nothing listed bills"));
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/teardown/merge", test_merge);
  g_test_add_func ("/teardown/describe", test_describe);
  g_test_add_func ("/teardown/age", test_age);
  g_test_add_func ("/teardown/bill", test_bill);
  return g_test_run ();
}
