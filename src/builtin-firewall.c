/* ferry firewall: security group <NAME>-ssh with one rule, 22/tcp from one source. */
#include "ferry-builtins.h"

static char *opt_cidr;
static gboolean opt_allow_any;

static const GOptionEntry options[] = {
  { "cidr", 0, 0, G_OPTION_ARG_STRING, &opt_cidr,
    "The one source SSH is open to (default: the kept one, else your public address /32)",
    "CIDR" },
  { "allow-any-source", 0, 0, G_OPTION_ARG_NONE, &opt_allow_any,
    "Accept --cidr 0.0.0.0/0 or ::/0 (SSH open to the whole internet)", NULL },
  { NULL }
};

gboolean
ferry_builtin_firewall (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                        GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autofree char *cidr = NULL, *group = NULL;
  FerryResources res;

  g_option_context_set_summary (
      context, "Make the security group <NAME>-ssh in the deployment's VPC with exactly one\n"
               "ingress rule: 22/tcp from --cidr. Run it again with another --cidr to move it.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry firewall --help)", argv[1]);
  if (opt_cidr != NULL && !ferry_cidr_validate (opt_cidr, opt_allow_any, NULL, error))
    return FALSE;
  if (!ferry_resources_open (inv, error))
    return FALSE;
  if (!inv->dry_run && !ferry_state_has_resource (inv->state, FERRY_KIND_VPC))
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "no VPC in %s yet; run ferry network first (or ferry bootstrap)",
                        inv->state_dir);
  cidr = ferry_resources_cidr (inv, opt_cidr, opt_allow_any, c, error);
  if (cidr == NULL)
    return FALSE;
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_SECURITY_GROUP, &res, &(FerrySpec){ .cidr = cidr }, c, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  group = ferry_state_dup_resource_string (inv->state, FERRY_KIND_SECURITY_GROUP, "id");
  g_print ("security group %s (%s-ssh): SSH from %s only\n", group, inv->name, cidr);
  return TRUE;
}
