/* The run agent's script as ferry renders it from the record's on_end: every setting there, each
 * value shell-quoted, whatever the record leaves out (no endpoint on real AWS, no bucket for stop). */
#include "core/agent.h"
#include "core/store.h"
#include "test-init.h"

static char *
render (json_t *on_end, GError **error)
{
  g_autoptr(json_t) record = json_pack ("{s:s, s:O}", "id", "20260101-000000-abcd", "on_end", on_end);

  return ferry_agent_render (record, error);
}

static void
test_stop_real_aws (void)
{
  /* No endpoint (real AWS) and no bucket: the keys are absent, the settings empty. */
  g_autoptr(json_t) on_end = ferry_agent_on_end ("stop", "i-0123", "eu-central-1", NULL, NULL, "ferry", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *script = render (on_end, &error);

  g_assert_no_error (error);
  g_assert_nonnull (script);
  g_assert_false (json_object_get (on_end, "endpoint_url") != NULL);
  g_assert_nonnull (strstr (script, "\nFERRY_THEN='stop'\n"));
  g_assert_nonnull (strstr (script, "\nFERRY_ENDPOINT_URL=''\n"));
  g_assert_nonnull (strstr (script, "\nFERRY_BUCKET=''\n"));
  g_assert_nonnull (strstr (script, "\nFERRY_INSTANCE_ID='i-0123'\n"));
}

static void
test_terminate_bucket (void)
{
  g_autoptr(json_t) on_end = ferry_agent_on_end ("terminate", "i-0123", "eu-central-1", "http://127.0.0.1:5000",
                                                 "it's-a-bucket", "ferry", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *script = render (on_end, &error);

  g_assert_no_error (error);
  g_assert_nonnull (strstr (script, "\nFERRY_BUCKET='it'\\''s-a-bucket'\n"));
  g_assert_nonnull (strstr (script, "\nFERRY_STORE_PREFIX='" FERRY_STORE_PREFIX "'\n"));
  g_assert_nonnull (strstr (script, "\nFERRY_ENDPOINT_URL='http://127.0.0.1:5000'\n"));
}

static void
test_by_laptop (void)
{
  /* --then left to the laptop: no agent, and no error. */
  g_autoptr(json_t) on_end = ferry_agent_on_end ("terminate", "i-0123", NULL, NULL, NULL, NULL, "the instance has no role");
  g_autoptr(GError) error = NULL;
  g_autofree char *script = render (on_end, &error);

  g_assert_no_error (error);
  g_assert_null (script);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/agent/stop-real-aws", test_stop_real_aws);
  g_test_add_func ("/agent/terminate-bucket", test_terminate_bucket);
  g_test_add_func ("/agent/by-laptop", test_by_laptop);
  return g_test_run ();
}
