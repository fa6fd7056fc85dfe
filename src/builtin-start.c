/* ferry start: placeholder until its issue lands. */
#include "ferry-builtins.h"

gboolean
ferry_builtin_start (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- start");

  if (!ferry_option_context_parse (context, NULL, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c, error))
    return FALSE;
  return ferry_throw (error, FERRY_ERROR_FAILED, "ferry start is not available in this build yet");
}
