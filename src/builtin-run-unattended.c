/* run --then carried out by the instance itself (core/agent.h): what the run's record tells the
 * agent, the laptop's part when it follows the run to its end, and attach or pull waking an
 * instance that its run stopped. */
#include "ferry-builtins.h"
#include "core/agent.h"
#include "core/bootstrap.h"
#include "core/instance.h"

#define FERRY_SELF_STOP_WAIT_S 180

json_t *
ferry_run_on_end (FerryInvocation *inv, const char *then, GCancellable *c, GError **error)
{
  g_autofree char *id = NULL;
  g_autoptr(json_t) instance = NULL;
  json_t *profile;
  const char *hold_env = g_getenv ("FERRY_AGENT_HOLD_S"); /* tests only */
  g_autoptr(json_t) root = NULL;
  g_autofree char *cap = NULL;
  json_t *on_end;

  if (then == NULL || g_str_equal (then, "keep"))
    return json_null ();
  id = ferry_instance_dup_id (inv->state, error);
  if (id == NULL)
    return NULL;
  instance = ferry_instance_describe (inv->aws, id, c, error);
  if (instance == NULL)
    return NULL;
  profile = json_object_get (json_object_get (instance, "IamInstanceProfile"), "Arn");
  root = ferry_state_dup_root (inv->state);
  if (json_is_integer (json_object_get (json_object_get (json_object_get (root, "resources"), FERRY_KIND_INSTANCE),
                                        "max_hours")))
    cap = g_strdup_printf (" (at most until its %" JSON_INTEGER_FORMAT " h lifetime cap)",
                           json_integer_value (json_object_get (
                               json_object_get (json_object_get (root, "resources"), FERRY_KIND_INSTANCE),
                               "max_hours")));
  if (g_str_equal (then, "stop") && json_is_string (profile))
    {
      on_end = ferry_agent_on_end (then, id, inv->region, inv->endpoint_url, NULL);
      if (hold_env != NULL)
        json_object_set_new (on_end, "hold_s", json_integer (g_ascii_strtoll (hold_env, NULL, 10)));
      return on_end;
    }
  /* Without a role the instance cannot stop itself (powering off would terminate it: that is its
   * shutdown behaviour, for the lifetime cap), and it never terminates with outputs on its disk
   * only: the laptop carries --then out once it has pulled. */
  if (g_str_equal (then, "stop"))
    g_printerr ("note: instance %s has no role to stop itself with (ferry bootstrap --bucket B --iam gives it one):"
                " --then stop happens when ferry attach brings the outputs home; until then it bills%s\n",
                id, cap ? cap : "");
  else
    g_printerr ("note: --then terminate happens once ferry attach has brought the outputs home"
                " (the instance never terminates with outputs only on its disk); until then it bills\n");
  return ferry_agent_on_end (then, id, NULL, NULL,
                             json_is_string (profile) ? "terminate: the outputs are on the disk only"
                                                      : "the instance has no role");
}

gboolean
ferry_run_then_by_instance (FerryInvocation *inv, FerryRemote *remote, const char *dir, FerryRun *run,
                            gboolean *out_done, GCancellable *c, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;

  *out_done = FALSE;
  /* No agent, or one that acted already (the instance was started again since): the laptop's. */
  if (!ferry_agent_by_instance (run->record) || ferry_agent_acted (run))
    return TRUE;
  if (!ferry_agent_release (remote, dir, run, c, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_printerr ("note: %s; the agent goes on by itself once the hold is older than %d s\n",
                  local_error->message, FERRY_AGENT_HOLD_S);
      g_clear_error (&local_error);
    }
  else if (!run->agent_alive)
    {
      g_printerr ("the agent of run %s is gone from the instance (killed?): carrying out --then from here\n",
                  run->id);
      return TRUE;
    }
  if (!ferry_invocation_use_aws (inv, c, error))
    return FALSE;
  id = ferry_instance_dup_id (inv->state, error);
  if (id == NULL)
    return FALSE;
  instance = ferry_instance_wait_state (inv->aws, id, "stopped", FERRY_SELF_STOP_WAIT_S, c, &local_error);
  if (instance == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_printerr ("instance %s did not stop itself (%s; its agent's record: %s/.ferry/runs/%s/on-end):"
                  " stopping it from here\n",
                  id, local_error->message, dir, run->id);
      return TRUE;
    }
  if (!ferry_instance_record (inv->state, instance, error))
    return FALSE;
  g_printerr ("instance %s stopped itself when run %s ended; its volume still bills (ferry start resumes it)\n",
              id, run->id);
  *out_done = TRUE;
  return TRUE;
}

/* Whether attach or pull started the instance (to be stopped again when they are done). */
static char *woken_id;

gboolean
ferry_run_instance_woken (void)
{
  return woken_id != NULL;
}

/* "run ID ended at TIME (exit N) and stopped it" from the instance's ferry:run tag, or NULL. */
char *
ferry_run_instance_story (json_t *instance)
{
  json_t *tag;
  size_t i;

  json_array_foreach (json_object_get (instance, "Tags"), i, tag)
    if (g_strcmp0 (json_string_value (json_object_get (tag, "Key")), FERRY_AGENT_TAG_KEY) == 0
        && json_is_string (json_object_get (tag, "Value")))
      {
        g_auto(GStrv) f = g_strsplit (json_string_value (json_object_get (tag, "Value")), " ", -1);
        const char *exit_s = NULL, *ended_s = NULL, *then = NULL;
        g_autoptr(GDateTime) ended = NULL;
        g_autofree char *when = NULL;

        for (guint k = 1; f[0] != NULL && f[k] != NULL; k++)
          if (g_str_has_prefix (f[k], "exit="))
            exit_s = f[k] + 5;
          else if (g_str_has_prefix (f[k], "ended="))
            ended_s = f[k] + 6;
          else if (g_str_has_prefix (f[k], "then="))
            then = f[k] + 5;
        if (f[0] == NULL || exit_s == NULL || ended_s == NULL)
          return NULL;
        ended = g_date_time_new_from_unix_utc (g_ascii_strtoll (ended_s, NULL, 10));
        when = ended ? g_date_time_format (ended, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("?");
        return g_strdup_printf ("run %s ended at %s (exit %s)%s%s", f[0], when, exit_s,
                                then ? "; its --then " : "", then ? then : "");
      }
  return NULL;
}

gboolean
ferry_run_wake_instance (FerryInvocation *inv, const char *host, GCancellable *c, GError **error)
{
  g_autofree char *id = NULL;
  g_autofree char *story = NULL;
  g_autoptr(json_t) instance = NULL;
  const char *state;

  if (host != NULL || inv->dry_run || !ferry_state_has_resource (inv->state, FERRY_KIND_INSTANCE))
    return TRUE;
  if (!ferry_invocation_use_aws (inv, c, error))
    return FALSE;
  id = ferry_instance_dup_id (inv->state, error);
  if (id == NULL)
    return FALSE;
  instance = ferry_instance_describe (inv->aws, id, c, error);
  if (instance == NULL)
    return FALSE;
  state = ferry_instance_state_name (instance);
  if (!g_str_equal (state, "stopped") && !g_str_equal (state, "stopping"))
    return TRUE;
  story = ferry_run_instance_story (instance);
  g_printerr ("instance %s is %s%s%s%s: starting it to bring the outputs home, then stopping it again\n", id,
              state, story ? " (" : "", story ? story : "", story ? ")" : "");
  if (g_str_equal (state, "stopping"))
    {
      g_autoptr(json_t) stopped = ferry_instance_wait_state (inv->aws, id, "stopped", 900, c, error);
      if (stopped == NULL)
        return FALSE;
    }
  if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_START, TRUE, 900, NULL, c, error))
    return FALSE;
  woken_id = g_strdup (id);
  return ferry_wait_ssh (inv->state, inv->ssh_user, (const char *const *) inv->ssh_options, 600, ferry_print_log, inv, c,
                         error);
}

gboolean
ferry_run_sleep_instance (FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autofree char *id = g_steal_pointer (&woken_id);

  if (id == NULL)
    return TRUE;
  if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_STOP, TRUE, 900, NULL, c, error))
    return FALSE;
  g_printerr ("stopped instance %s again; its volume still bills (ferry start resumes it)\n", id);
  return TRUE;
}
