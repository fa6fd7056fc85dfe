/* Unit tests for resources: CIDR and bucket-name validation, the one-bucket policy and the user
 * data rendered from templates/. */
#include "core/resources.h"
#include "test-init.h"

static void
test_cidr (void)
{
  struct
  {
    const char *text;
    gboolean allow_any;
    const char *normal; /* NULL: refused as a usage error */
  } cases[] = {
    { "203.0.113.7/32", FALSE, "203.0.113.7/32" },
    { "203.0.113.7", FALSE, "203.0.113.7/32" },
    { "198.51.100.0/24", FALSE, "198.51.100.0/24" },
    { "2001:db8::1", FALSE, "2001:db8::1/128" },
    { "2001:db8::/64", FALSE, "2001:db8::/64" },
    { "0.0.0.0/0", FALSE, NULL },
    { "::/0", FALSE, NULL },
    { "0.0.0.0/0", TRUE, "0.0.0.0/0" },
    { "::/0", TRUE, "::/0" },
    { "10.0.0/32", FALSE, NULL },
    { "203.0.113.7/33", FALSE, NULL },
    { "2001:db8::1/129", FALSE, NULL },
    { "203.0.113.7/24", FALSE, NULL }, /* bits beyond the prefix */
    { "203.0.113.7/", FALSE, NULL },
    { "203.0.113.7/-1", FALSE, NULL },
    { "203.0.113.7/3x", FALSE, NULL },
    { "/32", FALSE, NULL },
    { "", FALSE, NULL },
    { "example.org/32", FALSE, NULL },
    { "256.1.1.1/32", FALSE, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *normal = NULL;
      gboolean ok = ferry_cidr_validate (cases[i].text, cases[i].allow_any, &normal, &error);

      if (cases[i].normal != NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpstr (normal, ==, cases[i].normal);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
          g_assert_null (strchr (error->message, '\n'));
        }
    }
}

static void
test_bucket_name (void)
{
  const char *good[] = { "abc", "ferry-data-2026", "my.lab.bucket", "a1b", "0ab" };
  const char *bad[] = { "ab", "Bad_Bucket", "-abc", "abc-", "a..b", "192.168.5.4", "xn--abc",
                        "abc-s3alias", "sthree-abc", "ABC", "a b c",
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_true (ferry_bucket_name_validate (good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (ferry_bucket_name_validate (bad[i], &error));
      g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
      g_assert_nonnull (strstr (error->message, bad[i]));
    }
}

static void
test_policy (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) policy = ferry_role_policy_render ("lab", "eu-central-1", "lab-bucket", &error);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  json_t *statement, *resource, *one;
  size_t i, j;

  g_assert_no_error (error);
  g_assert_nonnull (policy);
  g_assert_cmpstr (json_string_value (json_object_get (policy, "Version")), ==, "2012-10-17");
  json_array_foreach (json_object_get (policy, "Statement"), i, statement)
    {
      g_assert_cmpstr (json_string_value (json_object_get (statement, "Effect")), ==, "Allow");
      resource = json_object_get (statement, "Resource");
      /* The instances only to end or tag, and only the deployment's. */
      if (g_strcmp0 (json_string_value (resource), "arn:aws:ec2:eu-central-1:*:instance/*") == 0)
        {
          json_t *cond = json_object_get (statement, "Condition");
          json_t *action = json_object_get (statement, "Action");
          json_t *a;
          size_t k;
          g_assert_cmpstr (json_string_value (json_object_get (json_object_get (cond, "StringEquals"),
                                                               "aws:ResourceTag/ferry:name")), ==, "lab");
          json_array_foreach (action, k, a)
            g_assert_true (g_str_equal (json_string_value (a), "ec2:StopInstances")
                           || g_str_equal (json_string_value (a), "ec2:TerminateInstances")
                           || g_str_equal (json_string_value (a), "ec2:CreateTags"));
          if (json_array_size (action) == 1)
            g_assert_cmpstr (json_string_value (json_object_get (
                                 json_object_get (cond, "ForAllValues:StringEquals"), "aws:TagKeys")
                                 ? json_array_get (json_object_get (json_object_get (cond, "ForAllValues:StringEquals"),
                                                                    "aws:TagKeys"), 0)
                                 : NULL), ==, "ferry:run");
        }
      /* The topic only to publish to, and only the deployment's. */
      if (g_strcmp0 (json_string_value (resource), "arn:aws:sns:eu-central-1:*:lab-notify") == 0)
        {
          json_t *action = json_object_get (statement, "Action");
          g_assert_cmpuint (json_array_size (action), ==, 1);
          g_assert_cmpstr (json_string_value (json_array_get (action, 0)), ==, "sns:Publish");
          g_assert_null (json_object_get (statement, "Condition"));
        }
      if (json_is_string (resource))
        g_hash_table_add (seen, (gpointer) json_string_value (resource));
      else
        json_array_foreach (resource, j, one)
          g_hash_table_add (seen, (gpointer) json_string_value (one));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 4);
  g_assert_true (g_hash_table_contains (seen, "arn:aws:sns:eu-central-1:*:lab-notify"));
  g_assert_true (g_hash_table_contains (seen, "arn:aws:s3:::lab-bucket"));
  g_assert_true (g_hash_table_contains (seen, "arn:aws:s3:::lab-bucket/*"));
  g_assert_true (g_hash_table_contains (seen, "arn:aws:ec2:eu-central-1:*:instance/*"));
}

static void
test_user_data (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = ferry_user_data_render ("lab", 8, "ec2-user", "7", &error);

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, "#!/bin/bash\n"));
  g_assert_nonnull (strstr (text, "readonly FERRY_MAX_HOURS=8\n"));
  g_assert_nonnull (strstr (text, "readonly FERRY_SSH_USER='ec2-user'\n"));
  g_assert_nonnull (strstr (text, "snakemake-minimal>=7,<8"));
  g_assert_nonnull (strstr (text, "shutdown -h"));
  g_assert_nonnull (strstr (text, "touch /var/lib/ferry/ready"));
  g_assert_null (strstr (text, "@MAX_HOURS@"));
  g_assert_null (strstr (text, "@SSH_USER@"));

  g_clear_pointer (&text, g_free);
  text = ferry_user_data_render ("lab", 12, "ec2-user", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (text, "readonly FERRY_SNAKEMAKE_SPEC='snakemake-minimal'\n"));
  /* conda and mamba, pinned, for --use-conda. */
  g_assert_nonnull (strstr (text, "readonly FERRY_CONDA_SPEC=conda=" FERRY_CONDA_VERSION "\n"));
  g_assert_nonnull (strstr (text, "readonly FERRY_MAMBA_SPEC=mamba=" FERRY_MAMBA_VERSION "\n"));

  /* A user name that could break out of the quotes never reaches the root-run script. */
  g_clear_pointer (&text, g_free);
  text = ferry_user_data_render ("lab", 12, "x';reboot;'", NULL, &error);
  g_assert_null (text);
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_USAGE);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/resources/cidr", test_cidr);
  g_test_add_func ("/resources/bucket-name", test_bucket_name);
  g_test_add_func ("/resources/policy", test_policy);
  g_test_add_func ("/resources/user-data", test_user_data);
  return g_test_run ();
}
