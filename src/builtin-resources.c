/* What bootstrap and the step commands (keypair, network, firewall, bucket, role, launch) share:
 * opening the state for creation, the SSH source, and the launch options with their defaults. */
#include "ferry-builtins.h"
#include "core/instance.h"

#include <unistd.h>

static gboolean
keep_setting_string (FerryInvocation *inv, const char *key, const char *value, GError **error)
{
  if (value == NULL || inv->dry_run)
    return TRUE;
  return ferry_state_set_setting (inv->state, key, json_string (value), error);
}

gboolean
ferry_resources_open (FerryInvocation *inv, GError **error)
{
  g_autoptr(json_t) opts = NULL;

  /* A missing region is said before the state dir is made. */
  if (!ferry_invocation_use_aws (inv, NULL, error)
      || !ferry_invocation_open_state (inv, !inv->dry_run, !inv->dry_run, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  if (!keep_setting_string (inv, "endpoint_url", inv->endpoint_url, error)
      || !keep_setting_string (inv, "region", inv->region, error)
      || !keep_setting_string (inv, "profile", inv->profile, error)
      || !keep_setting_string (inv, "ssh_user", inv->ssh_user, error))
    return FALSE;
  if (inv->ssh_options != NULL)
    {
      opts = json_array ();
      for (guint i = 0; inv->ssh_options[i] != NULL; i++)
        json_array_append_new (opts, json_string (inv->ssh_options[i]));
      if (!ferry_state_set_setting (inv->state, "ssh_options", g_steal_pointer (&opts), error))
        return FALSE;
    }
  return TRUE;
}

/* Progress lines ("created security group ..."): on a terminal, or with -v. A failure in a script
 * stays one error line. */
static void
progress_log (const char *message, gpointer user_data)
{
  FerryInvocation *inv = user_data;

  if (inv->dry_run || inv->verbose || isatty (STDERR_FILENO))
    ferry_print_log (message, inv);
}

void
ferry_resources_init (FerryInvocation *inv, FerryResources *res)
{
  if (inv->dry_run)
    ferry_state_set_memory_only (inv->state);
  *res = (FerryResources){
    .aws = inv->aws,
    .state = inv->state,
    .dry_run = inv->dry_run,
    .log = progress_log,
    .log_data = inv,
  };
}

char *
ferry_resources_cidr (FerryInvocation *inv, const char *cli_cidr, gboolean allow_any,
                      GCancellable *cancellable, GError **error)
{
  g_autofree char *kept = NULL;
  g_autofree char *detected = NULL;
  char *cidr = NULL;

  if (cli_cidr != NULL)
    {
      if (!ferry_cidr_validate (cli_cidr, allow_any, &cidr, error))
        return NULL;
    }
  else if ((kept = ferry_state_dup_setting_string (inv->state, "cidr")) != NULL)
    {
      if (!ferry_cidr_validate (kept, TRUE, &cidr, error))
        return NULL;
    }
  else
    {
      detected = ferry_detect_public_cidr (3000, cancellable, error);
      if (detected == NULL)
        return NULL;
      g_autofree char *note = g_strdup_printf ("SSH will be open to your public address %s only",
                                               detected);
      progress_log (note, inv);
      if (!ferry_cidr_validate (detected, FALSE, &cidr, error))
        return NULL;
    }
  if (!g_str_has_suffix (cidr, "/32") && !g_str_has_suffix (cidr, "/128")
      && !g_str_has_suffix (cidr, "/0"))
    {
      g_autofree char *note = g_strdup_printf (
          "note: %s lets a whole range reach SSH; a single address (/32) is safer", cidr);
      progress_log (note, inv);
    }
  if (!keep_setting_string (inv, "cidr", cidr, error))
    return (g_free (cidr), NULL);
  return cidr;
}

/* An integer option: the command line, else the state's setting, else the default; in [1, max]. */
static gboolean
settle_int (FerryInvocation *inv, const char *option, const char *key, gint64 cli, gint64 dflt,
            gint64 max, gint64 *out, GError **error)
{
  g_autoptr(json_t) kept = ferry_state_dup_setting (inv->state, key);

  if (cli != G_MININT64)
    {
      if (cli < 1 || cli > max)
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "invalid --%s %" G_GINT64_FORMAT ": give a whole number from 1 to %"
                            G_GINT64_FORMAT,
                            option, cli, max);
      *out = cli;
    }
  else if (json_is_integer (kept) && json_integer_value (kept) >= 1
           && json_integer_value (kept) <= max)
    *out = json_integer_value (kept);
  else
    *out = dflt;
  if (inv->dry_run)
    return TRUE;
  return ferry_state_set_setting (inv->state, key, json_integer (*out), error);
}

gboolean
ferry_resources_launch_options (FerryInvocation *inv, FerryLaunchOptions *opts, const char *type,
                                gint64 volume_gb, gint64 max_hours, gboolean spot,
                                const char *ami, GError **error)
{
  g_autofree char *kept_type = ferry_state_dup_setting_string (inv->state, "instance_type");
  g_autoptr(json_t) kept_spot = ferry_state_dup_setting (inv->state, "spot");

  memset (opts, 0, sizeof *opts);
  if (type == NULL)
    type = kept_type ? kept_type : FERRY_DEFAULT_INSTANCE_TYPE;
  if (!g_regex_match_simple ("^[a-z][a-z0-9-]*\\.[a-z0-9-]+$", type, 0, 0))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid --instance-type \"%s\": give an EC2 type such as r5.8xlarge",
                        type);
  if (ami != NULL && !g_regex_match_simple ("^ami-[0-9a-f]{8,17}$", ami, 0, 0))
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid --ami \"%s\": an AMI id looks like ami-0123456789abcdef0", ami);
  if (!settle_int (inv, "volume-size", "volume_size", volume_gb, FERRY_DEFAULT_VOLUME_GB, 16384,
                   &opts->volume_gb, error)
      || !settle_int (inv, "max-hours", "max_hours", max_hours, FERRY_DEFAULT_MAX_HOURS, 24 * 30,
                      &opts->max_hours, error))
    return FALSE;
  opts->instance_type = g_intern_string (type);
  opts->spot = spot || json_is_true (kept_spot);
  opts->ami = ami ? g_intern_string (ami) : NULL;
  opts->ssh_user = g_intern_string (inv->ssh_user ? inv->ssh_user : FERRY_DEFAULT_SSH_USER);
  opts->wait_timeout_s = 600;
  if (inv->dry_run)
    return TRUE;
  return keep_setting_string (inv, "instance_type", type, error)
         && ferry_state_set_setting (inv->state, "spot", json_boolean (opts->spot), error);
}

char *
ferry_resources_ssh_hint (FerryInvocation *inv)
{
  GString *s = g_string_new ("ferry ssh");

  if (g_strcmp0 (inv->state_dir, ".ferry") != 0)
    {
      g_autofree char *q = g_shell_quote (inv->state_dir);
      g_string_append_printf (s, " --state-dir %s", q);
    }
  return g_string_free (s, FALSE);
}

void
ferry_plan_note_outside (char **outside)
{
  for (guint i = 0; outside != NULL && outside[i] != NULL; i++)
    g_printerr ("note: %s is outside the workflow directory and is not sent: the remote needs it at "
                "the same path\n",
                outside[i]);
}

char *
ferry_builtin_instance_open (GOptionContext *context, const GOptionEntry *entries, int *argc,
                             char ***argv, FerryInvocation *inv, FerryBuiltinFlags flags,
                             GCancellable *cancellable, GError **error)
{
  if (!ferry_option_context_parse (context, entries, argc, argv, inv, flags, cancellable, error))
    return NULL;
  if (*argc > 1)
    {
      ferry_usage_error (context, error, "unexpected argument \"%s\" (see ferry %s --help)",
                         (*argv)[1], inv->verb);
      return NULL;
    }
  if (!ferry_invocation_open_state (inv, FALSE, TRUE, error)
      || !ferry_invocation_use_aws (inv, cancellable, error))
    return NULL;
  return ferry_instance_dup_id (inv->state, error);
}

gboolean
ferry_builtin_remote_via (FerryInvocation *inv, GOptionContext *context, FerryRemote *remote,
                          const char *via, GError **error)
{
  g_autofree char *bucket = NULL;

  if (via != NULL && g_str_equal (via, "ssh"))
    return TRUE;
  if (via != NULL && !g_str_equal (via, "store") && !g_str_equal (via, "s3"))
    return ferry_usage_error (context, error, "--via takes ssh, store or s3 (the store), not \"%s\"",
                              via);
  bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
  /* The store is the default for the instance of a deployment whose instance may read its bucket
   * (bootstrap --bucket --iam); a --host keeps the direct path unless asked. */
  if (via == NULL
      && (bucket == NULL || !remote->ec2
          || !ferry_state_has_resource (inv->state, FERRY_KIND_INSTANCE_PROFILE)))
    return TRUE;
  if (bucket != NULL && !ferry_invocation_use_aws (inv, NULL, error))
    return FALSE;
  if (bucket == NULL)
    return ferry_usage_error (context, error,
                              "--via %s needs the deployment's bucket: ferry bootstrap --bucket NAME "
                              "(with --iam, so the instance may read it)", via);
  ferry_remote_set_via_s3 (remote, inv->aws, bucket, ferry_state_get_dir (inv->state),
                           ferry_state_get_name (inv->state));
  return TRUE;
}

FerryRun *
ferry_builtin_run_find (FerryInvocation *inv, GOptionContext *context, const char *host,
                        const char *remote_dir, const char *id, FerryRemote **out_remote,
                        char **out_dir, GCancellable *c, GError **error)
{
  if (id != NULL && !ferry_run_id_valid (id))
    return (ferry_usage_error (context, error, "invalid run id \"%s\" (ferry status lists the runs)", id),
            NULL);
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error))
    return NULL;
  *out_remote = ferry_builtin_remote (inv, host, remote_dir, out_dir, error);
  if (*out_remote == NULL)
    return NULL;
  return ferry_remote_run_find (*out_remote, *out_dir, id, c, error);
}

FerryRemote *
ferry_builtin_remote (FerryInvocation *inv, const char *host, const char *remote_dir, char **out_dir,
                      GError **error)
{
  FerryRemote *remote = ferry_remote_open (inv->state, host, inv->ssh_user,
                                           (const char *const *) inv->ssh_options, error);

  if (remote == NULL)
    return NULL;
  remote->verbose = inv->verbose;
  remote->log = ferry_print_log;
  remote->log_data = inv;
  *out_dir = remote_dir ? g_strdup (remote_dir) : ferry_remote_default_dir (inv->name);
  return remote;
}
