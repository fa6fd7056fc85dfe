/* ferry keypair: the EC2 key pair <NAME>, its ed25519 key made locally into a 0400 pem. */
#include "ferry-builtins.h"

gboolean
ferry_builtin_keypair (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                       GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autofree char *pem = NULL;
  FerryResources res;

  g_option_context_set_summary (
      context, "Make the EC2 key pair <NAME>: an ed25519 key generated locally with ssh-keygen\n"
               "into <state-dir>/<NAME>.pem (mode 0400), whose public half is imported and tagged.\n"
               "The private key never passes through AWS and is never printed.");
  if (!ferry_option_context_parse (context, NULL, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry keypair --help)", argv[1]);
  if (!ferry_resources_open (inv, error))
    return FALSE;
  ferry_resources_init (inv, &res);
  if (!ferry_kind_ensure (FERRY_KIND_KEY_PAIR, &res, &(FerrySpec){ 0 }, c, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  pem = ferry_state_pem_path (inv->state);
  g_print ("key pair %s ready; private key %s (mode 0400)\n", inv->name, pem);
  return TRUE;
}
