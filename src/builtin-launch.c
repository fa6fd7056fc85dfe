/* ferry launch: the instance, from the key pair, firewall and network already made. */
#include "ferry-builtins.h"
#include "core/bootstrap.h"

static FerryLaunchArgs opt_launch = FERRY_LAUNCH_ARGS_INIT;

static const GOptionEntry options[] = {
  FERRY_LAUNCH_OPTION_ENTRIES (opt_launch),
  { NULL }
};

gboolean
ferry_builtin_launch (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                      GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(json_t) instance = NULL;
  FerryLaunchOptions opts;
  FerryResources res;
  gboolean created = FALSE;

  g_option_context_set_summary (
      context,
      "Launch the instance with the deployment's key pair, security group, subnet and (if made)\n"
      "instance profile, a gp3 root volume deleted with it, and user data that installs\n"
      "snakemake and terminates the instance after --max-hours. Waits until it takes SSH.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT,
                                   c, error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry launch --help)", argv[1]);
  if (!ferry_resources_open (inv, error))
    return FALSE;
  if (!ferry_resources_launch_options (inv, &opts, opt_launch.type, opt_launch.volume,
                                       opt_launch.hours, opt_launch.spot, opt_launch.ami, error))
    return FALSE;
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_INSTANCE, &res, &(FerrySpec){ .launch = &opts }, c, error))
    return FALSE;
  created = res.instance_launched;
  if (inv->dry_run)
    return TRUE;
  if (!opt_launch.no_wait_ssh
      && !ferry_wait_ssh (inv->state, opts.ssh_user, (const char *const *) inv->ssh_options, 600,
                          res.log, res.log_data, c, error))
    return FALSE;
  instance = ferry_state_dup_resource (inv->state, FERRY_KIND_INSTANCE);
  g_print ("%s instance %s (%s), %s; it terminates itself %" G_GINT64_FORMAT " h after launch\n",
           created ? "launched" : "already have", json_string_value (json_object_get (instance, "id")),
           json_string_value (json_object_get (instance, "type")),
           json_string_value (json_object_get (instance, "state")), opts.max_hours);
  return TRUE;
}
