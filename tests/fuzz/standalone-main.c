/* Runs a fuzz target over its seed corpus without libFuzzer, so the seeds are replayed in every build. */
#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  guint n = 0;

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
      const char *name;

      if (dir == NULL)
        {
          g_printerr ("cannot open corpus %s\n", argv[i]);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[i], name, NULL);
          g_autofree char *data = NULL;
          gsize len;

          if (!g_file_get_contents (path, &data, &len, NULL))
            return 1;
          LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
          g_print ("ok %u - %s\n", ++n, name);
        }
    }
  g_print ("1..%u\n", n);
  return n > 0 ? 0 : 1;
}
