/* ferry bootstrap: every step of the reference page's AWS setup, idempotent, independent chains at
 * once, ending with a running instance that takes SSH. */
#include "ferry-builtins.h"
#include "core/bootstrap.h"
#include "core/budget.h"
#include "core/plan.h"
#include "core/teardown.h"

static char *opt_cidr;
static gboolean opt_allow_any;
static char *opt_bucket;
static gboolean opt_iam;
static FerryLaunchArgs opt_launch = FERRY_LAUNCH_ARGS_INIT;
static char **opt_for;
static char *opt_budget;
static char *opt_budget_email;

static const GOptionEntry options[] = {
  { "cidr", 0, 0, G_OPTION_ARG_STRING, &opt_cidr,
    "The one source SSH is open to (default: your public address as a /32)", "CIDR" },
  { "allow-any-source", 0, 0, G_OPTION_ARG_NONE, &opt_allow_any,
    "Accept --cidr 0.0.0.0/0 or ::/0 (SSH open to the whole internet)", NULL },
  { "bucket", 0, 0, G_OPTION_ARG_STRING, &opt_bucket, "Also create this private S3 bucket",
    "NAME" },
  { "iam", 0, 0, G_OPTION_ARG_NONE, &opt_iam,
    "Give the instance a role that reaches that bucket only (needs --bucket)", NULL },
  FERRY_LAUNCH_OPTION_ENTRIES (opt_launch),
  { "for", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_for,
    "Launch the cheapest type that fits TARGET's jobs, with a volume sized for them (see ferry "
    "plan; --instance-type and --volume-size still win; arguments after -- go to the plan's "
    "snakemake)",
    "TARGET" },
  { "budget", 0, 0, G_OPTION_ARG_STRING, &opt_budget,
    "Also create a monthly AWS cost budget named after the deployment (teardown deletes it)", "USD" },
  { "budget-email", 0, 0, G_OPTION_ARG_STRING, &opt_budget_email,
    "Where the budget's alert goes when actual spend passes 80 %", "ADDR" },
  { NULL }
};

static void
print_summary (FerryInvocation *inv, GPtrArray *created)
{
  g_autoptr(json_t) instance = ferry_state_dup_resource (inv->state, FERRY_KIND_INSTANCE);
  g_autoptr(GString) made = g_string_new (NULL);
  g_autofree char *hint = ferry_resources_ssh_hint (inv);
  const char *dns = json_string_value (json_object_get (instance, "public_dns"));
  const char *ip = json_string_value (json_object_get (instance, "public_ip"));
  json_int_t hours = json_integer_value (json_object_get (instance, "max_hours"));

  for (guint i = 0; i < created->len; i++)
    g_string_append_printf (made, "%s%s", i ? ", " : "", ferry_kind_label (created->pdata[i]));
  g_print ("created   %s\n", made->len ? made->str : "nothing new (all there already)");
  g_print ("instance  %s  %s  %s\n", json_string_value (json_object_get (instance, "id")),
           json_string_value (json_object_get (instance, "type")),
           json_string_value (json_object_get (instance, "state")));
  g_print ("address   %s%s%s%s\n", dns && *dns ? dns : (ip ? ip : "-"),
           dns && *dns && ip ? " (" : "", dns && *dns && ip ? ip : "", dns && *dns && ip ? ")" : "");
  g_print ("ssh       %s\n", hint);
  g_print ("cap       the instance terminates itself %" JSON_INTEGER_FORMAT
           " h after launch; ferry stop pauses it, ferry teardown removes everything\n",
           hours);
}

/* --for: the plan's choice of type and volume, and the line that says what it costs. */
static char *
bootstrap_for (FerryInvocation *inv, const char *const *extra, char **out_type,
               gint64 *out_volume, GCancellable *c, GError **error)
{
  g_autoptr(json_t) kept_spot = ferry_state_dup_setting (inv->state, "spot");
  g_autoptr(FerryQuote) q = NULL;
  FerryQuoteOptions qo = { 0 };

  qo.arch = "x86_64"; /* the AMI bootstrap looks up */
  qo.spot = opt_launch.spot || json_is_true (kept_spot);
  qo.max_hours = ferry_plan_max_hours (inv, opt_launch.hours);
  qo.volume_gb = opt_launch.volume != G_MININT64 ? opt_launch.volume : 0;
  qo.instance_type = opt_launch.type;
  q = ferry_plan_quote (inv, (const char *const *) opt_for, extra, &qo, c, error);
  if (q == NULL)
    return NULL;
  if (q->types_error != NULL && opt_launch.type == NULL)
    return (ferry_throw (error, FERRY_ERROR_FAILED, "listing the region's instance types: %s",
                         q->types_error),
            NULL);
  if (q->chosen == NULL && opt_launch.type == NULL)
    return (ferry_quote_throw_none_fits (q, error), NULL);
  *out_type = g_strdup (opt_launch.type ? opt_launch.type : q->chosen->type->name);
  *out_volume = q->needs.volume_gb;
  return ferry_plan_launch_line (q);
}

gboolean
ferry_builtin_bootstrap (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                         GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GPtrArray) created = NULL;
  g_autofree char *cidr = NULL;
  g_autofree char *kept_bucket = NULL;
  g_autoptr(json_t) kept_iam = NULL;
  g_autofree char *launch_line = NULL;
  g_autofree char *planned_type = NULL;
  gint64 planned_volume = G_MININT64;
  char **extra = ferry_split_double_dash (&argc, argv);
  FerryBootstrapOptions opts = { 0 };
  FerryResources res;
  g_autofree char *budget_amount = NULL;
  GError *local_error = NULL;
  gboolean bad_volume;

  g_option_context_set_summary (
      context,
      "Make everything an offload needs, in one go: key pair, network, firewall, optional bucket\n"
      "and role, and a running instance that takes SSH. Running it again makes nothing new.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT,
                                   c, error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry bootstrap --help)", argv[1]);
  /* Everything that can be checked without AWS is checked before anything is made. */
  if (opt_cidr != NULL && !ferry_cidr_validate (opt_cidr, opt_allow_any, NULL, error))
    return FALSE;
  if (opt_bucket != NULL && !ferry_bucket_name_validate (opt_bucket, error))
    return FALSE;
  if (opt_iam && opt_bucket == NULL)
    return ferry_usage_error (context, error,
                              "--iam needs --bucket NAME: the role gives access to that bucket only");
  bad_volume = opt_launch.volume != G_MININT64 && opt_launch.volume < 1;
  if (bad_volume || (opt_launch.hours != G_MININT64 && opt_launch.hours < 1))
    return ferry_usage_error (context, error, "invalid --%s %" G_GINT64_FORMAT
                              ": give a whole number of at least 1",
                              bad_volume ? "volume-size" : "max-hours",
                              bad_volume ? opt_launch.volume : opt_launch.hours);
  if (opt_budget_email != NULL && opt_budget == NULL)
    return ferry_usage_error (context, error,
                              "--budget-email needs --budget USD: the alert belongs to the budget");
  if ((opt_budget != NULL && !ferry_budget_amount_validate (opt_budget, &budget_amount, error))
      || (opt_budget_email != NULL && !ferry_budget_email_validate (opt_budget_email, error)))
    return FALSE;

  if (opt_for != NULL)
    {
      /* Sized before anything is made: a target no type fits creates nothing. */
      if (!ferry_invocation_open_state (inv, FALSE, FALSE, error))
        return FALSE;
      launch_line = bootstrap_for (inv, (const char *const *) extra, &planned_type, &planned_volume,
                                   c, error);
      if (launch_line == NULL)
        return FALSE;
    }
  else if (extra != NULL)
    return ferry_usage_error (context, error,
                              "arguments after -- go to the plan's snakemake: they need --for TARGET");

  if (!ferry_resources_open (inv, error))
    return FALSE;
  kept_bucket = ferry_state_dup_setting_string (inv->state, "bucket");
  kept_iam = ferry_state_dup_setting (inv->state, "iam");
  opts.bucket = opt_bucket ? opt_bucket : kept_bucket;
  opts.iam = opt_iam || json_is_true (kept_iam);
  if (!ferry_resources_launch_options (
          inv, &opts.launch, opt_launch.type ? opt_launch.type : planned_type,
          opt_launch.volume != G_MININT64 ? opt_launch.volume : planned_volume, opt_launch.hours,
          opt_launch.spot, opt_launch.ami, error))
    return FALSE;
  cidr = ferry_resources_cidr (inv, opt_cidr, opt_allow_any, c, error);
  if (cidr == NULL)
    return FALSE;
  if (!inv->dry_run
      && ((opts.bucket != NULL
           && !ferry_state_set_setting (inv->state, "bucket", json_string (opts.bucket), error))
          || !ferry_state_set_setting (inv->state, "iam", json_boolean (opts.iam), error)))
    return FALSE;
  opts.cidr = cidr;
  opts.wait_ssh = !opt_launch.no_wait_ssh;
  opts.ssh_timeout_s = 600;
  opts.ssh_options = (const char *const *) inv->ssh_options;

  if (launch_line != NULL && !ferry_state_has_resource (inv->state, FERRY_KIND_INSTANCE))
    g_print ("%s\n", launch_line);

  /* The safety net goes up before anything bills (the bucket and instance wait for it). */
  opts.budget_amount = budget_amount;
  opts.budget_email = opt_budget_email;
  ferry_resources_init (inv, &res);
  if (!ferry_bootstrap (&res, &opts, &created, c, &local_error))
    {
      /* Whatever was made is recorded: say how to finish or undo it. */
      if (!inv->dry_run && ferry_state_exists_on_disk (inv->state)
          && !g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_USAGE)
          && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          char *message = g_strdup_printf ("%s (what was made is recorded in %s: run ferry "
                                           "bootstrap again to finish, or ferry teardown)",
                                           local_error->message, inv->state_dir);
          g_free (local_error->message);
          local_error->message = message;
        }
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (inv->dry_run)
    return TRUE;
  print_summary (inv, created);
  {
    g_autoptr(json_t) budget = ferry_state_dup_resource (inv->state, FERRY_KIND_BUDGET);
    const char *email = json_string_value (json_object_get (budget, "email"));
    if (budget != NULL)
      {
        g_autofree char *alert = email ? g_strdup_printf (", an alert at %d %% of actual spend to %s",
                                                          FERRY_BUDGET_ALERT_PERCENT, email)
                                       : g_strdup (" (no alert without --budget-email)");
        g_print ("budget    %s: $%s a month%s\n", json_string_value (json_object_get (budget, "id")),
                 json_string_value (json_object_get (budget, "amount")), alert);
      }
  }
  return TRUE;
}
