/* run --then carried out by the instance itself (core/agent.h): what the run's record tells the
 * agent, the laptop's part when it follows the run to its end, and attach or pull waking an
 * instance that its run stopped. */
#include "ferry-builtins.h"
#include "core/agent.h"
#include "core/bootstrap.h"
#include "core/instance.h"
#include "core/plan.h"

#define FERRY_SELF_STOP_WAIT_S 180

/* The deployment's instance, with AWS in use: its id. */
static char *
aws_instance_id (FerryInvocation *inv, GCancellable *c, GError **error)
{
  if (!ferry_invocation_use_aws (inv, c, error))
    return NULL;
  return ferry_instance_dup_id (inv->state, error);
}

/* run --notify: the role may publish to the deployment's topic (a policy from before --notify gets
 * it now), the topic is made and `email` subscribed to it. The topic's ARN. */
static char *
notify_prepare (FerryInvocation *inv, const char *email, GCancellable *c, GError **error)
{
  g_autofree char *bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
  g_autoptr(json_t) topic = ferry_state_dup_resource (inv->state, FERRY_KIND_TOPIC);
  size_t subscribed_before = json_array_size (json_object_get (topic, "emails"));
  FerryResources res;

  /* The state stays unlocked, as run keeps it (each change takes the lock for its own time): a
   * ferry stop elsewhere must not wait for the run's end. */
  json_decref (g_steal_pointer (&topic));
  ferry_resources_init (inv, &res);
  if (ferry_state_has_resource (inv->state, FERRY_KIND_ROLE)
      && !ferry_kind_ensure (FERRY_KIND_ROLE, &res, &(FerrySpec){ .iam = TRUE, .bucket = bucket }, c, error))
    return NULL;
  if (!ferry_kind_ensure (FERRY_KIND_TOPIC, &res, &(FerrySpec){ .notify_email = email }, c, error))
    return NULL;
  topic = ferry_state_dup_resource (inv->state, FERRY_KIND_TOPIC);
  if (subscribed_before == json_array_size (json_object_get (topic, "emails")) - 1)
    g_printerr ("note: %s is subscribed to SNS topic %s now: AWS mails it a confirmation first, and the"
                " message arrives only once the link in it is followed\n",
                email, json_string_value (json_object_get (topic, "id")));
  return g_strdup (json_string_value (json_object_get (topic, "arn")));
}

json_t *
ferry_run_on_end (FerryInvocation *inv, const char *then, const char *notify, GCancellable *c, GError **error)
{
  g_autofree char *id = NULL;
  g_autoptr(json_t) instance = NULL;
  json_t *profile;
  const char *hold_env = g_getenv ("FERRY_AGENT_HOLD_S"); /* tests only */
  g_autoptr(json_t) root = NULL;
  g_autofree char *cap = NULL;
  g_autofree char *bucket = NULL;
  json_t *on_end;

  g_autoptr(json_t) recorded = ferry_state_dup_resource (inv->state, FERRY_KIND_INSTANCE);
  gboolean spot = json_is_true (json_object_get (recorded, "spot"));

  if (then == NULL)
    then = "keep";
  /* A spot instance's agent watches for the interruption notice whatever --then; --notify's sends
   * the message. */
  if (g_str_equal (then, "keep") && !spot && notify == NULL)
    return json_null ();
  id = aws_instance_id (inv, c, error);
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
  bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
  /* The message is the instance's to send: the laptop may be closed when the run ends. */
  if (notify != NULL && !json_is_string (profile))
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "--notify: instance %s has no role to send the message with (ferry bootstrap --bucket B"
                         " --iam gives it one), and nothing else can tell you while the laptop is closed:"
                         " run without --notify, and ferry attach waits for the run's end instead",
                         id),
            NULL);
  if (notify != NULL && g_str_equal (then, "terminate") && bucket == NULL)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "--notify with --then terminate: the deployment has no bucket for the instance to save"
                         " the outputs in before it goes, so the laptop would carry --then out and no message"
                         " would come from the instance: ferry bootstrap --bucket B --iam, or --then stop"),
            NULL);
  /* stop needs the role; terminate needs the bucket too, for the outputs to outlive the disk, and
   * so does a spot instance, for what is finished when the notice comes. */
  if (json_is_string (profile)
      && (g_str_equal (then, "stop") || bucket != NULL || (notify != NULL && g_str_equal (then, "keep"))))
    {
      gboolean watch = spot && bucket != NULL;
      on_end = ferry_agent_on_end (then, id, inv->region, inv->endpoint_url,
                                   g_str_equal (then, "terminate") || watch ? bucket : NULL, inv->name, NULL);
      if (hold_env != NULL)
        json_object_set_new (on_end, "hold_s", json_integer (g_ascii_strtoll (hold_env, NULL, 10)));
      if (watch)
        {
          const char *imds = g_getenv ("FERRY_IMDS_URL"); /* tests only */
          json_object_set_new (on_end, "imds", json_string (imds ? imds : FERRY_AGENT_IMDS_URL));
          /* What an interruption's cost is figured from, in the save the agent makes then. */
          json_object_set (on_end, "instance_type", json_object_get (instance, "InstanceType"));
          json_object_set (on_end, "launched", json_object_get (instance, "LaunchTime"));
          json_object_set (on_end, "zone",
                           json_object_get (json_object_get (instance, "Placement"), "AvailabilityZone"));
        }
      else if (spot)
        g_printerr ("note: spot instance %s has no bucket to save finished outputs in when AWS takes it back"
                    " (ferry bootstrap --bucket B --iam gives it one): an interruption loses what is on its disk\n",
                    id);
      if (notify != NULL)
        {
          g_autofree char *topic = notify_prepare (inv, notify, c, error);
          if (topic == NULL)
            {
              json_decref (on_end);
              return NULL;
            }
          json_object_set_new (on_end, "notify",
                               json_pack ("{s:s, s:s, s:s}", "topic", topic, "email", notify, "deployment", inv->name));
        }
      return on_end;
    }
  if (spot)
    g_printerr ("note: spot instance %s has %s to save finished outputs with when AWS takes it back"
                " (ferry bootstrap --bucket B --iam gives it both): an interruption loses what is on its disk\n",
                id, json_is_string (profile) ? "no bucket" : bucket != NULL ? "no role" : "no role and no bucket");
  if (g_str_equal (then, "keep"))
    return json_null ();
  /* Without a role the instance cannot stop itself (powering off would terminate it: that is its
   * shutdown behaviour, for the lifetime cap), and it never terminates with outputs on its disk
   * only: the laptop carries --then out once it has pulled. */
  if (g_str_equal (then, "stop"))
    g_printerr ("note: instance %s has no role to stop itself with (ferry bootstrap --bucket B --iam gives it one):"
                " --then stop happens when ferry attach brings the outputs home; until then it bills%s\n",
                id, cap ? cap : "");
  else
    g_printerr ("note: instance %s has %s to save the outputs with before it goes (ferry bootstrap --bucket B --iam"
                " gives it both): --then terminate happens when ferry attach brings the outputs home (the instance never"
                " terminates with outputs only on its disk); until then it bills%s\n",
                id,
                json_is_string (profile) ? "no bucket" : bucket != NULL ? "no role" : "no role and no bucket",
                cap ? cap : "");
  return ferry_agent_on_end (then, id, NULL, NULL, NULL, NULL,
                             json_is_string (profile) ? "terminate: no bucket for the outputs"
                                                      : "the instance has no role");
}

gboolean
ferry_run_then_by_instance (FerryInvocation *inv, FerryRemote *remote, const char *dir, FerryRun *run,
                            gboolean *out_done, GCancellable *c, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;
  const char *then = json_string_value (json_object_get (json_object_get (run->record, "on_end"), "then"));
  gboolean released;

  *out_done = FALSE;
  /* No agent, or one that acted already (the instance was started again since): the laptop's. */
  if (!ferry_agent_by_instance (run->record) || ferry_agent_acted (run))
    return TRUE;
  released = ferry_agent_release (remote, dir, run, c, &local_error);
  if (!released)
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
  if (g_strcmp0 (then, "keep") == 0)
    return TRUE; /* a spot instance's agent: it only watched for the notice */
  if (released && !run->agent_alive)
    {
      g_printerr ("the agent of run %s is gone from the instance (killed?): carrying out --then from here\n",
                  run->id);
      return TRUE;
    }
  id = aws_instance_id (inv, c, error);
  if (id == NULL)
    return FALSE;
  instance = ferry_instance_wait_state (inv->aws, id, FERRY_INSTANCE_ENDED, FERRY_SELF_STOP_WAIT_S, c, &local_error);
  if (instance == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_printerr ("instance %s did not %s itself (%s; its agent's record: %s/.ferry/runs/%s/on-end):"
                  " %s it from here\n",
                  id, then, local_error->message, dir, run->id, then);
      return TRUE;
    }
  if (!ferry_instance_record (inv->state, instance, error))
    return FALSE;
  if (g_str_equal (ferry_instance_state_name (instance), "terminated"))
    g_printerr ("instance %s terminated itself when run %s ended, its outputs saved in the store first;"
                " nothing of it bills\n",
                id, run->id);
  else
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

/* The words of the instance's ferry:run tag ("RUN exit=N ended=EPOCH then=T [saved=KEY]"), or NULL. */
static GStrv
run_tag_words (json_t *instance)
{
  json_t *tag;
  size_t i;

  json_array_foreach (json_object_get (instance, "Tags"), i, tag)
    if (g_strcmp0 (json_string_value (json_object_get (tag, "Key")), FERRY_AGENT_TAG_KEY) == 0
        && json_is_string (json_object_get (tag, "Value")))
      return g_strsplit (json_string_value (json_object_get (tag, "Value")), " ", -1);
  return NULL;
}

static const char *
tag_field (GStrv words, const char *key)
{
  gsize n = strlen (key);

  for (guint k = 1; words != NULL && words[0] != NULL && words[k] != NULL; k++)
    if (strncmp (words[k], key, n) == 0 && words[k][n] == '=')
      return words[k] + n + 1;
  return NULL;
}

char *
ferry_run_instance_story (json_t *instance)
{
  g_auto(GStrv) f = run_tag_words (instance);
  const char *exit_s = tag_field (f, "exit"), *ended_s = tag_field (f, "ended"), *then = tag_field (f, "then");
  g_autoptr(GDateTime) ended = NULL;
  g_autofree char *when = NULL;

  if (f == NULL || f[0] == NULL || exit_s == NULL || ended_s == NULL)
    return NULL;
  ended = g_date_time_new_from_unix_utc (g_ascii_strtoll (ended_s, NULL, 10));
  when = ended ? g_date_time_format (ended, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("?");
  return g_strdup_printf ("run %s ended at %s (exit %s)%s%s", f[0], when, exit_s, then ? "; its --then " : "",
                          then ? then : "");
}

char *
ferry_run_instance_tag_field (json_t *instance, const char *key)
{
  g_auto(GStrv) f = run_tag_words (instance);

  return g_strdup (tag_field (f, key));
}

gboolean
ferry_run_refresh_instance (FerryInvocation *inv, const char *host, json_t **out_instance, GCancellable *c,
                            GError **error)
{
  g_autofree char *id = NULL;
  g_autoptr(json_t) instance = NULL;
  g_autoptr(GError) local_error = NULL;

  if (out_instance != NULL)
    *out_instance = NULL;
  if (host != NULL || inv->dry_run || !ferry_state_has_resource (inv->state, FERRY_KIND_INSTANCE))
    return TRUE;
  id = aws_instance_id (inv, c, error);
  if (id == NULL)
    return FALSE;
  instance = ferry_instance_describe (inv->aws, id, c, &local_error);
  if (instance == NULL)
    {
      /* Terminated long enough ago that AWS forgot it. */
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return ferry_state_update (inv->state, FERRY_KIND_INSTANCE, "state", json_string ("gone"), error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!ferry_instance_record (inv->state, instance, error))
    return FALSE;
  if (out_instance != NULL)
    *out_instance = g_steal_pointer (&instance);
  return TRUE;
}

gboolean
ferry_run_instance_gone (FerryInvocation *inv, const char *host)
{
  g_autofree char *state = NULL;

  if (host != NULL)
    return FALSE;
  state = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "state");
  return g_strcmp0 (state, "terminated") == 0 || g_strcmp0 (state, "shutting-down") == 0
         || g_strcmp0 (state, "gone") == 0;
}

gboolean
ferry_run_wake_instance (FerryInvocation *inv, const char *host, GCancellable *c, GError **error)
{
  g_autofree char *id = NULL;
  g_autofree char *story = NULL;
  g_autoptr(json_t) instance = NULL;
  const char *state;

  if (!ferry_run_refresh_instance (inv, host, &instance, c, error))
    return FALSE;
  if (instance == NULL)
    return TRUE;
  id = ferry_instance_dup_id (inv->state, error);
  if (id == NULL)
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
ferry_run_attach_from_store (FerryInvocation *inv, const char *run_id, GCancellable *c, GError **error)
{
  g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, error);
  g_autoptr(json_t) list = NULL;
  g_autofree char *instance_id = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "id");
  g_autofree char *state = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "state");
  json_t *found = NULL;
  FerryPullStats stats;

  if (store == NULL)
    return FALSE;
  list = ferry_store_list (store, c, error);
  if (list == NULL)
    return FALSE;
  /* The newest save of the run (any run's, without RUN) that its agent made before the end. */
  for (size_t i = json_array_size (list); i > 0 && found == NULL; i--)
    {
      json_t *o = json_array_get (list, i - 1);
      const char *run = json_string_value (json_object_get (o, "run"));
      if (g_strcmp0 (json_string_value (json_object_get (o, "kind")), "save") == 0 && run != NULL
          && (run_id == NULL || g_str_equal (run, run_id)))
        found = o;
    }
  if (found == NULL)
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "instance %s is %s, and the store in s3://%s holds no outputs saved by %s%s: they are lost"
                        " unless they are home already (ferry status)",
                        instance_id, state, ferry_store_get_bucket (store), run_id ? "run " : "any run",
                        run_id ? run_id : "");
  if (!ferry_store_pull (store, json_string_value (json_object_get (found, "key")), NULL, &stats, c, error))
    return FALSE;
  g_printerr ("run %s has ended (exit %" JSON_INTEGER_FORMAT "), and instance %s is %s: its outputs come from the store\n",
              json_string_value (json_object_get (found, "run")), json_integer_value (json_object_get (found, "exit")),
              instance_id, state);
  g_printerr ("pulled %u entries (%" G_GUINT64_FORMAT " bytes) from the store, s3://%s/%s\n", stats.entries,
              stats.bytes, ferry_store_get_bucket (store), json_string_value (json_object_get (found, "key")));
  inv->exit_status = (int) json_integer_value (json_object_get (found, "exit"));
  return TRUE;
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

/* --- spot interruptions: the run recovered on a replacement --------------------------------------- */

json_t *
ferry_run_find_interrupted (FerryInvocation *inv, const char *run_id, const char *const *targets,
                            GCancellable *c, GError **error)
{
  g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, error);
  g_autoptr(json_t) list = NULL;
  g_autoptr(json_t) want = json_array ();

  if (store == NULL)
    return NULL;
  list = ferry_store_list (store, c, error);
  if (list == NULL)
    return NULL;
  for (guint i = 0; targets != NULL && targets[i] != NULL; i++)
    json_array_append_new (want, json_string (targets[i]));
  /* The newest save by a run of these targets (or by RUN) decides: interrupted or not. */
  for (size_t i = json_array_size (list); i > 0; i--)
    {
      json_t *o = json_array_get (list, i - 1);
      const char *run = json_string_value (json_object_get (o, "run"));
      if (run == NULL || g_strcmp0 (json_string_value (json_object_get (o, "kind")), "save") != 0)
        continue;
      if (run_id != NULL ? !g_str_equal (run, run_id) : !json_equal (json_object_get (o, "targets"), want))
        continue;
      if (!json_is_true (json_object_get (o, "interrupted")))
        break;
      return json_incref (o);
    }
  return NULL;
}

/* What EC2 answers when it has no room for the type now (its errors overview): another type may
 * have room. */
static const char *const capacity_codes[]
    = { "InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity",
        "UnfulfillableCapacity", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded", "Unsupported",
        NULL };

static gboolean
capacity_refused (const GError *error)
{
  for (guint i = 0; capacity_codes[i] != NULL; i++)
    if (ferry_aws_error_has_code (error, capacity_codes[i]))
      return TRUE;
  return FALSE;
}

/* The replacement: the same type, or, while EC2 has no room for one, the next type that fits the
 * targets in the plan's order (after the refused one when the plan lists it). */
static gboolean
recover_launch (FerryInvocation *inv, FerryResources *res, FerryLaunchOptions *opts,
                const char *const *targets, GCancellable *c, GError **error)
{
  g_autoptr(FerryQuote) q = NULL;
  g_autoptr(GHashTable) refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *type = g_strdup (opts->instance_type);
  const char *arch = NULL;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      const char *next = NULL;
      guint i = 0;

      opts->instance_type = g_intern_string (type); /* outlives this call, as the state's type does */
      if (ferry_kind_ensure (FERRY_KIND_INSTANCE, res, &(FerrySpec){ .launch = opts }, c,
                             &local_error))
        return TRUE;
      if (type == NULL || !capacity_refused (local_error))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_hash_table_add (refused, g_strdup (type));
      if (q == NULL)
        {
          /* The replacement boots the same AMI: the next type runs what the refused one runs. */
          g_autoptr(GPtrArray) types
              = ferry_instance_types_load (inv->aws, inv->region, inv->state_dir, c, error);
          FerryQuoteOptions qo = { .spot = opts->spot, .max_hours = opts->max_hours, .volume_gb = opts->volume_gb };
          if (types == NULL)
            return (g_prefix_error (error, "%s was refused (%s); finding the next type that fits: ", type,
                                    ferry_aws_error_code (local_error)),
                    FALSE);
          arch = ferry_instance_type_arch (types, type);
          qo.arch = arch = arch != NULL ? arch : "x86_64";
          q = ferry_plan_quote (inv, targets, NULL, &qo, c, error);
          if (q == NULL)
            return (g_prefix_error (error, "%s was refused (%s); finding the next type that fits: ", type,
                                    ferry_aws_error_code (local_error)),
                    FALSE);
        }
      for (guint j = 0; j < q->candidates->len; j++)
        if (g_str_equal (((FerryCandidate *) q->candidates->pdata[j])->type->name, type))
          i = j + 1;
      for (; i < q->candidates->len && next == NULL; i++)
        {
          const char *name = ((FerryCandidate *) q->candidates->pdata[i])->type->name;
          if (!g_hash_table_contains (refused, name))
            next = name;
        }
      if (next == NULL)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "EC2 has no room for a %s %s instance (%s), and no other %s type that fits"
                            " the target is left to try (the plan's %u tried; the AMI runs %s only):"
                            " ferry attach again later, or with --no-spot-retry on demand",
                            type, opts->spot ? "spot" : "on-demand", ferry_aws_error_code (local_error), arch,
                            q->candidates->len, arch);
      g_printerr ("EC2 has no room for a %s %s instance (%s): trying %s, the next cheapest type that"
                  " fits\n",
                  type, opts->spot ? "spot" : "on-demand", ferry_aws_error_code (local_error), next);
      g_free (type);
      type = g_strdup (next);
    }
}

gboolean
ferry_run_recover_start (FerryInvocation *inv, const char *const *targets, int max_interruptions,
                         gboolean spot, json_t **out_interrupted, GCancellable *c, GError **error)
{
  g_autoptr(json_t) found = NULL;
  g_autoptr(GError) local_error = NULL;
  FerryLaunchOptions opts;
  FerryResources res;
  json_int_t n;

  *out_interrupted = NULL;
  if (!ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET)
      || !ferry_state_has_resource (inv->state, FERRY_KIND_INSTANCE))
    return TRUE;
  if (!ferry_run_refresh_instance (inv, NULL, NULL, c, error))
    return FALSE;
  if (!ferry_run_instance_gone (inv, NULL))
    return TRUE;
  found = ferry_run_find_interrupted (inv, NULL, targets, c, &local_error);
  if (found == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  n = json_integer_value (json_object_get (found, "interruptions"));
  if (n >= max_interruptions)
    return ferry_throw (error, FERRY_ERROR_FAILED,
                        "run %s was interrupted %" JSON_INTEGER_FORMAT " times (AWS took its spot instance back;"
                        " --max-interruptions %d): not retrying, and nothing of it bills; the outputs it finished"
                        " are in the store (ferry pull TARGET), and ferry run TARGET --no-spot-retry goes on"
                        " on demand",
                        json_string_value (json_object_get (found, "run")), n, max_interruptions);
  g_printerr ("run %s was interrupted (AWS took its spot instance back; interruption %" JSON_INTEGER_FORMAT
              " of at most %d): recovering it on a new %s instance, with the outputs it finished\n",
              json_string_value (json_object_get (found, "run")), n, max_interruptions,
              spot ? "spot" : "on-demand");
  if (!ferry_resources_open (inv, error)
      || !ferry_resources_launch_options (inv, &opts, NULL, G_MININT64, G_MININT64, spot, NULL, error))
    return FALSE;
  opts.spot = spot;
  /* The type the interrupted instance had: a fallback that replaced the deployment's type before
   * (EC2 had no room for it) is where this recovery starts. */
  if (json_is_string (json_object_get (found, "instance_type")))
    opts.instance_type = g_intern_string (json_string_value (json_object_get (found, "instance_type")));
  ferry_resources_init (inv, &res);
  if (!recover_launch (inv, &res, &opts, targets, c, error)
      || !ferry_wait_ssh (inv->state, opts.ssh_user, (const char *const *) inv->ssh_options, 600, res.log,
                          res.log_data, c, error))
    return FALSE;
  /* The rest is the run, which keeps the state unlocked as any run does: a ferry stop elsewhere
   * must not wait for its end. */
  ferry_state_unlock (inv->state);
  *out_interrupted = g_steal_pointer (&found);
  return TRUE;
}

gboolean
ferry_run_recover_restore (FerryInvocation *inv, FerryRemote *remote, const char *dir, json_t *interrupted,
                           GCancellable *c, GError **error)
{
  g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, error);
  FerryStoreRestoreStats st;

  if (store == NULL
      || !ferry_store_restore_remote (store, remote, dir, json_string_value (json_object_get (interrupted, "key")),
                                      &st, c, error))
    return FALSE;
  g_printerr ("restored %u outputs that run %s finished, from the store (%u fetched)\n", st.files,
              json_string_value (json_object_get (interrupted, "run")), st.fetched);
  return TRUE;
}

json_t *
ferry_run_interruptions (FerryInvocation *inv, GCancellable *c)
{
  g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, NULL);
  g_autoptr(json_t) list = store != NULL ? ferry_store_list (store, c, NULL) : NULL;
  json_t *out = json_array ();
  json_t *o;
  size_t i;

  json_array_foreach (list, i, o)
    if (json_is_true (json_object_get (o, "interrupted")))
      json_array_append (out, o);
  return out;
}
