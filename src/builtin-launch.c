/* ferry launch: the instance, from the key pair, firewall and network already made. */
#include "ferry-builtins.h"
#include "core/bootstrap.h"

static char *opt_type;
static gint64 opt_volume = G_MININT64;
static gint64 opt_hours = G_MININT64;
static gboolean opt_spot;
static char *opt_ami;
static gboolean opt_no_wait_ssh;

static const GOptionEntry options[] = {
  { "instance-type", 0, 0, G_OPTION_ARG_STRING, &opt_type,
    "EC2 instance type (default " FERRY_DEFAULT_INSTANCE_TYPE ")", "TYPE" },
  { "volume-size", 0, 0, G_OPTION_ARG_INT64, &opt_volume, "Root volume in GB, gp3 (default 30)",
    "GB" },
  { "max-hours", 0, 0, G_OPTION_ARG_INT64, &opt_hours,
    "The instance terminates itself this many hours after launch (default 12)", "H" },
  { "spot", 0, 0, G_OPTION_ARG_NONE, &opt_spot, "Launch a one-time spot instance", NULL },
  { "ami", 0, 0, G_OPTION_ARG_STRING, &opt_ami,
    "Image to launch (default: the latest Amazon Linux 2023)", "ID" },
  { "no-wait-ssh", 0, 0, G_OPTION_ARG_NONE, &opt_no_wait_ssh,
    "Return once the instance runs, without waiting for SSH", NULL },
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
  if (!ferry_resources_launch_options (inv, &opts, opt_type, opt_volume, opt_hours, opt_spot,
                                       opt_ami, error))
    return FALSE;
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_INSTANCE, &res, &(FerrySpec){ .launch = &opts }, c, error))
    return FALSE;
  created = res.instance_launched;
  if (inv->dry_run)
    return TRUE;
  if (!opt_no_wait_ssh
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
