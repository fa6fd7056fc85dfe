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
      if (g_str_equal (state, want))
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
      g_usleep ((gulong) interval_ms * 1000);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
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
