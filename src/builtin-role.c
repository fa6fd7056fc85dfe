/* ferry role: placeholder until its issue lands. */
#include "ferry-builtins.h"

gboolean
ferry_builtin_role (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- role");

  if (!ferry_option_context_parse (context, NULL, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c, error))
    return FALSE;
  return ferry_throw (error, FERRY_ERROR_FAILED, "ferry role is not available in this build yet");
}
