/* The EC2 instance: describe it, wait for a state, and keep its changing address in the state. */
#include "instance.h"

json_t *
ferry_instance_describe (FerryAws *aws, const char *id, GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--instance-ids", id, NULL };
  g_autoptr(json_t) root = ferry_aws_call (aws, "ec2", "describe-instances", args, cancellable, error);
  json_t *reservations = NULL;
  json_t *instances;

  if (root == NULL)
    return NULL;
  if (!ferry_json_unpack (root, "aws ec2 describe-instances", error, "{s:o}", "Reservations",
                          &reservations))
    return NULL;
  instances = json_object_get (json_array_get (reservations, 0), "Instances");
  if (json_array_size (instances) == 0)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "instance %s does not exist", id), NULL);
  return json_incref (json_array_get (instances, 0));
}

const char *
ferry_instance_state_name (json_t *instance)
{
  const char *name = json_string_value (json_object_get (json_object_get (instance, "State"), "Name"));
  return name ? name : "unknown";
}

json_t *
ferry_instance_wait_state (FerryAws *aws, const char *id, const char *want, guint timeout_s,
                           GCancellable *cancellable, GError **error)
{
  const char *poll_env = g_getenv ("FERRY_POLL_MS");
  guint interval_ms = poll_env ? (guint) g_ascii_strtoull (poll_env, NULL, 10) : 2000;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(json_t) instance = ferry_instance_describe (aws, id, cancellable, error);
      const char *state;

      if (instance == NULL)
        return NULL;
      state = ferry_instance_state_name (instance);
      if (g_str_equal (state, want) || (g_str_equal (want, FERRY_INSTANCE_ENDED)
                                        && (g_str_equal (state, "stopped") || g_str_equal (state, "terminated"))))
        return g_steal_pointer (&instance);
      if (g_str_equal (state, "terminated"))
        return (ferry_throw (error, FERRY_ERROR_FAILED,
                             "instance %s is terminated; it will not become %s", id, want),
                NULL);
      if (g_get_monotonic_time () + (gint64) interval_ms * 1000 > deadline)
        return (ferry_throw (error, FERRY_ERROR_FAILED,
                             "instance %s is still %s after %u s (waiting for %s); check `ferry status`",
                             id, state, timeout_s, want),
                NULL);
      if (!ferry_sleep (interval_ms, cancellable, error))
        return NULL;
      interval_ms = MIN (interval_ms * 3 / 2, 10000);
    }
}

gboolean
ferry_instance_record (FerryState *state, json_t *instance, GError **error)
{
  json_t *dns = json_object_get (instance, "PublicDnsName");
  json_t *ip = json_object_get (instance, "PublicIpAddress");

  return ferry_state_update (state, FERRY_KIND_INSTANCE, "state",
                             json_string (ferry_instance_state_name (instance)), error)
         && ferry_state_update (state, FERRY_KIND_INSTANCE, "public_dns",
                                json_is_string (dns) ? json_incref (dns) : json_null (), error)
         && ferry_state_update (state, FERRY_KIND_INSTANCE, "public_ip",
                                json_is_string (ip) ? json_incref (ip) : json_null (), error);
}

char *
ferry_instance_dup_id (FerryState *state, GError **error)
{
  char *id = ferry_state_dup_resource_string (state, FERRY_KIND_INSTANCE, "id");

  if (id == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no instance in %s; run ferry bootstrap",
                         ferry_state_get_dir (state)),
            NULL);
  return id;
}

gboolean
ferry_instance_change (FerryAws *aws, FerryState *state, FerryInstanceAction action,
                       gboolean wait, guint timeout_s, json_t **out_instance,
                       GCancellable *cancellable, GError **error)
{
  static const struct
  {
    const char *operation, *want, *verb;
  } actions[] = {
    [FERRY_INSTANCE_STOP] = { "stop-instances", "stopped", "stop" },
    [FERRY_INSTANCE_START] = { "start-instances", "running", "start" },
    [FERRY_INSTANCE_TERMINATE] = { "terminate-instances", "terminated", "terminate" },
  };
  g_autofree char *id = ferry_instance_dup_id (state, error);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) result = NULL;
  g_autoptr(json_t) instance = NULL;
  const char *args[] = { "--instance-ids", id, NULL };

  if (out_instance)
    *out_instance = NULL;
  if (id == NULL)
    return FALSE;

  result = ferry_aws_call (aws, "ec2", actions[action].operation, args, cancellable, &local_error);
  if (result == NULL)
    {
      if (!g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          if (ferry_aws_error_has_code (local_error, "IncorrectInstanceState"))
            g_prefix_error (&local_error, "cannot %s instance %s now (see ferry status): ",
                            actions[action].verb, id);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (action != FERRY_INSTANCE_TERMINATE)
        return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                            "instance %s no longer exists; run ferry bootstrap to launch another", id);
      /* Terminated long ago: nothing left to wait for. */
      return aws->dry_run || ferry_state_forget (state, FERRY_KIND_INSTANCE, error);
    }
  if (aws->dry_run)
    return TRUE;
  if (!wait)
    {
      static const char *const members[] = { "StoppingInstances", "StartingInstances",
                                              "TerminatingInstances" };
      json_t *change = json_array_get (json_object_get (result, members[action]), 0);
      json_t *now = json_object_get (json_object_get (change, "CurrentState"), "Name");
      return !json_is_string (now)
             || ferry_state_update (state, FERRY_KIND_INSTANCE, "state", json_incref (now), error);
    }

  instance = ferry_instance_wait_state (aws, id, actions[action].want, timeout_s, cancellable,
                                        &local_error);
  if (instance == NULL)
    {
      if (action == FERRY_INSTANCE_TERMINATE
          && g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return ferry_state_forget (state, FERRY_KIND_INSTANCE, error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (action == FERRY_INSTANCE_TERMINATE)
    {
      if (!ferry_state_forget (state, FERRY_KIND_INSTANCE, error))
        return FALSE;
    }
  else if (!ferry_instance_record (state, instance, error))
    return FALSE;
  if (out_instance)
    *out_instance = g_steal_pointer (&instance);
  return TRUE;
}
