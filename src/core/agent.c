/* The run's agent on the instance (templates/run-agent.sh): what the record tells it, its script,
 * and the laptop's side of it: the hold while a follower pulls, and the agent's record read back. */
#include "agent.h"
#include "store.h"

json_t *
ferry_agent_on_end (const char *then, const char *instance_id, const char *region,
                    const char *endpoint_url, const char *bucket, const char *deployment,
                    const char *why_not)
{
  if (why_not != NULL)
    return json_pack ("{s:s, s:s, s:s}", "then", then, "by", "laptop", "why", why_not);
  /* s* leaves a NULL out: the agent's settings read a key that is there as a string. */
  return json_pack ("{s:s, s:s, s:s, s:s, s:s*, s:i, s:s*, s:s*}", "then", then, "by", "instance",
                    "instance_id", instance_id, "region", region, "endpoint_url", endpoint_url,
                    "hold_s", FERRY_AGENT_HOLD_S, "bucket", bucket, "deployment", deployment);
}

gboolean
ferry_agent_by_instance (json_t *record)
{
  json_t *on_end = json_object_get (record, "on_end");

  return json_is_object (on_end)
         && g_strcmp0 (json_string_value (json_object_get (on_end, "by")), "instance") == 0;
}

static void
add_setting (GString *out, const char *key, const char *value)
{
  g_autofree char *quoted = g_shell_quote (value ? value : "");

  g_string_append_printf (out, "%s=%s\n", key, quoted);
}

char *
ferry_agent_render (json_t *record, GError **error)
{
  json_t *on_end = json_object_get (record, "on_end");
  const char *id = json_string_value (json_object_get (record, "id"));
  const char *then = NULL, *instance_id = NULL, *region = NULL, *endpoint = NULL, *bucket = NULL;
  const char *imds = NULL;
  json_int_t hold_s = FERRY_AGENT_HOLD_S;
  g_autoptr(GString) out = g_string_new ("#!/bin/sh\n");
  g_autofree char *body = NULL;
  g_autofree char *hold = NULL;
  json_error_t jerr;

  if (!ferry_agent_by_instance (record))
    return NULL;
  if (json_unpack_ex (on_end, &jerr, 0, "{s:s, s:s, s:s, s?:s, s?:I, s?:s, s?:s}", "then", &then,
                      "instance_id", &instance_id, "region", &region, "endpoint_url", &endpoint, "hold_s",
                      &hold_s, "bucket", &bucket, "imds", &imds)
          != 0
      || id == NULL)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "the run's on_end: %s", jerr.text), NULL);
  if (!ferry_template_load ("run-agent.sh", &body, error))
    return NULL;
  hold = g_strdup_printf ("%" JSON_INTEGER_FORMAT, hold_s);
  add_setting (out, "FERRY_RUN_ID", id);
  add_setting (out, "FERRY_THEN", then);
  add_setting (out, "FERRY_INSTANCE_ID", instance_id);
  add_setting (out, "FERRY_REGION", region);
  add_setting (out, "FERRY_ENDPOINT_URL", endpoint);
  add_setting (out, "FERRY_HOLD_S", hold);
  add_setting (out, "FERRY_AWS_TRIES", "8");
  add_setting (out, "FERRY_BUCKET", bucket);
  add_setting (out, "FERRY_STORE_PREFIX", FERRY_STORE_PREFIX);
  add_setting (out, "FERRY_IMDS", imds);
  add_setting (out, "FERRY_INSTANCE_TYPE", json_string_value (json_object_get (on_end, "instance_type")));
  add_setting (out, "FERRY_LAUNCHED", json_string_value (json_object_get (on_end, "launched")));
  add_setting (out, "FERRY_ZONE", json_string_value (json_object_get (on_end, "zone")));
  {
    json_t *notify = json_object_get (on_end, "notify");
    g_auto(GStrv) targets = NULL;
    g_autofree char *joined = NULL;
    g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
    json_t *t;
    size_t i;

    json_array_foreach (json_object_get (record, "targets"), i, t)
      if (json_is_string (t))
        g_strv_builder_add (b, json_string_value (t));
    targets = g_strv_builder_end (b);
    joined = g_strjoinv (" ", targets);
    add_setting (out, "FERRY_TARGETS", joined);
    add_setting (out, "FERRY_NOTIFY_TOPIC", json_string_value (json_object_get (notify, "topic")));
    add_setting (out, "FERRY_NOTIFY_EMAIL", json_string_value (json_object_get (notify, "email")));
    add_setting (out, "FERRY_DEPLOYMENT", json_string_value (json_object_get (notify, "deployment")));
    add_setting (out, "FERRY_NOTIFY_ATTRIBUTE", FERRY_TOPIC_EMAIL_ATTRIBUTE);
  }
  {
    g_autofree char *n = g_strdup_printf ("%" JSON_INTEGER_FORMAT,
                                          json_integer_value (json_object_get (record, "interruptions")));
    add_setting (out, "FERRY_INTERRUPTIONS", n);
  }
  g_string_append (out, body);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gint64
ferry_agent_event (FerryRun *run, const char *word, const char **out_detail)
{
  json_t *event;
  size_t i;
  gint64 when = 0;

  if (out_detail != NULL)
    *out_detail = NULL;
  json_array_foreach (run->on_end, i, event)
    if (g_strcmp0 (json_string_value (json_array_get (event, 1)), word) == 0)
      {
        when = json_integer_value (json_array_get (event, 0));
        if (out_detail != NULL)
          *out_detail = json_string_value (json_array_get (event, 2));
      }
  return when;
}

gboolean
ferry_agent_acted (FerryRun *run)
{
  return ferry_agent_event (run, "stopping", NULL) > 0 || ferry_agent_event (run, "terminating", NULL) > 0
         || ferry_agent_event (run, "kept", NULL) > 0;
}

gboolean
ferry_agent_release (FerryRemote *remote, const char *remote_dir, FerryRun *run,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autofree char *dir = g_strconcat (remote_dir, "/.ferry/runs/", run->id, NULL);

  ferry_remote_cmd_op (cmd, "cd");
  ferry_remote_cmd_path (cmd, dir);
  ferry_remote_cmd_op (cmd, "&& rm -f hold");
  if (!ferry_remote_capture (remote, cmd->str, NULL, NULL, cancellable, error))
    {
      g_prefix_error (error, "letting the agent of run %s go on: ", run->id);
      return FALSE;
    }
  return TRUE;
}
