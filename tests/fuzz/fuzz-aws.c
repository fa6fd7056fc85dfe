/* Fuzz target: what ferry reads from aws: its error text and its JSON output. */
#include <stdint.h>

#include "core/aws.h"
#include "core/instance.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto(FerryErrorPrivate) info = { 0 };
  g_autoptr(json_t) root = NULL;
  g_autoptr(GError) error = NULL;
  json_t *reservations = NULL;
  json_error_t jerr;

  ferry_aws_parse_error (text, &info);

  root = json_loadb ((const char *) data, size, 0, &jerr);
  if (root == NULL)
    return 0;
  if (ferry_json_unpack (root, "fuzz", &error, "{s:o}", "Reservations", &reservations))
    {
      json_t *instance = json_array_get (json_object_get (json_array_get (reservations, 0), "Instances"), 0);
      (void) ferry_instance_state_name (instance);
    }
  return 0;
}
