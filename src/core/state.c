/* .ferry/state.json: load, validate, atomic save, and the lock that keeps two ferries apart. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "state.h"

struct _FerryState
{
  GMutex lock;
  char *dir;
  char *name;
  char *path;
  json_t *root;
  int lock_fd;
  gboolean memory_only;
  gboolean opened; /* read from disk: changes go back to it under the lock */
};

static json_t *
empty_root (const char *name)
{
  return json_pack ("{s:s, s:i, s:s, s:{}, s:{}}", "schema", FERRY_STATE_SCHEMA, "version",
                    FERRY_STATE_VERSION, "name", name, "settings", "resources");
}

FerryState *
ferry_state_new (const char *dir, const char *name)
{
  FerryState *state = g_new0 (FerryState, 1);

  g_mutex_init (&state->lock);
  state->dir = g_strdup (dir);
  state->name = g_strdup (name);
  state->path = g_build_filename (dir, "state.json", NULL);
  state->lock_fd = -1;
  state->root = empty_root (name);
  return state;
}

void
ferry_state_free (FerryState *state)
{
  if (state == NULL)
    return;
  if (state->lock_fd >= 0)
    close (state->lock_fd);
  json_decref (state->root);
  g_free (state->dir);
  g_free (state->name);
  g_free (state->path);
  g_mutex_clear (&state->lock);
  g_free (state);
}

const char *
ferry_state_get_dir (FerryState *state)
{
  return state->dir;
}

const char *
ferry_state_get_name (FerryState *state)
{
  return state->name;
}

char *
ferry_state_path (FerryState *state, const char *relative)
{
  return g_build_filename (state->dir, relative, NULL);
}

char *
ferry_state_pem_path (FerryState *state)
{
  g_autofree char *file = g_strconcat (state->name, ".pem", NULL);
  return ferry_state_path (state, file);
}

gboolean
ferry_state_exists_on_disk (FerryState *state)
{
  return g_file_test (state->path, G_FILE_TEST_EXISTS);
}

gboolean
ferry_state_validate (json_t *root, GError **error)
{
  const char *schema = NULL, *name = NULL;
  json_t *settings = NULL, *resources = NULL;
  json_int_t version = 0;
  json_error_t jerr;
  const char *kind;
  json_t *res;

  if (!json_is_object (root))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "not a JSON object");
  if (json_unpack_ex (root, &jerr, 0, "{s:s, s:I, s:s, s:o, s:o}", "schema", &schema, "version",
                      &version, "name", &name, "settings", &settings, "resources", &resources)
      != 0)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "not ferry state: %s", jerr.text);
  if (!g_str_equal (schema, FERRY_STATE_SCHEMA))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "not ferry state (schema \"%s\")", schema);
  if (version > FERRY_STATE_VERSION)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "written by a newer ferry (state version %" JSON_INTEGER_FORMAT ")", version);
  if (version < 1)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "bad state version %" JSON_INTEGER_FORMAT,
                        version);
  if (*name == '\0')
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "empty deployment name");
  if (!json_is_object (settings) || !json_is_object (resources))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "\"settings\" and \"resources\" must be objects");
  json_object_foreach (resources, kind, res)
    {
      if (!json_is_object (res) || !json_is_string (json_object_get (res, "id"))
          || json_string_length (json_object_get (res, "id")) == 0)
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "resource \"%s\" has no \"id\"", kind);
    }
  return TRUE;
}

json_t *
ferry_state_parse (const char *text, gsize len, GError **error)
{
  json_error_t jerr;
  g_autoptr(json_t) root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);

  if (root == NULL)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "not valid JSON (line %d: %s)", jerr.line,
                         jerr.text),
            NULL);
  if (!ferry_state_validate (root, error))
    return NULL;
  return g_steal_pointer (&root);
}

static void
peek_string (char **field, json_t *settings, const char *key)
{
  const char *value = json_string_value (json_object_get (settings, key));

  if (*field == NULL && value != NULL && *value != '\0')
    *field = g_strdup (value);
}

void
ferry_state_peek_settings (const char *dir, FerryConfig *layer)
{
  g_autofree char *path = g_build_filename (dir, "state.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(json_t) root = NULL;
  json_t *settings, *opts;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, NULL)
      || (root = ferry_state_parse (text, len, NULL)) == NULL)
    return;
  settings = json_object_get (root, "settings");
  peek_string (&layer->name, root, "name");
  peek_string (&layer->endpoint_url, settings, "endpoint_url");
  peek_string (&layer->region, settings, "region");
  peek_string (&layer->profile, settings, "profile");
  peek_string (&layer->ssh_user, settings, "ssh_user");
  opts = json_object_get (settings, "ssh_options");
  if (layer->ssh_options == NULL && json_is_array (opts) && json_array_size (opts) > 0)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      size_t i;
      json_t *v;

      json_array_foreach (opts, i, v)
        if (json_is_string (v))
          g_strv_builder_add (b, json_string_value (v));
      layer->ssh_options = g_strv_builder_end (b);
    }
}

static gboolean
ensure_dir (FerryState *state, GError **error)
{
  g_autofree char *ignore = g_build_filename (state->dir, ".gitignore", NULL);
  struct stat st;

  /* mkdir applies the umask, which can only take bits away from 0700. */
  if (g_mkdir_with_parents (state->dir, 0700) != 0)
    {
      int errsv = errno;
      return ferry_throw (error, FERRY_ERROR_FAILED, "creating state dir %s: %s", state->dir,
                          g_strerror (errsv));
    }
  if (stat (state->dir, &st) == 0 && (st.st_mode & 07777) != 0700 && chmod (state->dir, 0700) != 0)
    {
      int errsv = errno;
      return ferry_throw (error, FERRY_ERROR_FAILED, "making state dir %s private: %s", state->dir,
                          g_strerror (errsv));
    }
  if (!g_file_test (ignore, G_FILE_TEST_EXISTS)
      && !g_file_set_contents_full (ignore, "*\n", -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return FALSE;
  return TRUE;
}

static gboolean
take_lock (FerryState *state, GError **error)
{
  g_autofree char *lock_path = g_build_filename (state->dir, "lock", NULL);
  int fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      int errsv = errno;
      return ferry_throw (error, FERRY_ERROR_FAILED, "opening %s: %s", lock_path, g_strerror (errsv));
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int errsv = errno;
      close (fd);
      if (errsv == EWOULDBLOCK)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "another ferry is working on %s; wait for it to finish and try again",
                            state->dir);
      return ferry_throw (error, FERRY_ERROR_FAILED, "locking %s: %s", lock_path, g_strerror (errsv));
    }
  state->lock_fd = fd;
  return TRUE;
}

/* Reads state.json into state->root; an absent file is an empty state (a teardown removed it). */
static gboolean
load (FerryState *state, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) root = NULL;
  gsize len;
  const char *name;

  if (!g_file_get_contents (state->path, &text, &len, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      json_decref (state->root);
      state->root = empty_root (state->name);
      return TRUE;
    }
  root = ferry_state_parse (text, len, error);
  if (root == NULL)
    {
      g_prefix_error (error, "state file %s is unusable (left as it is; move it aside to start over): ",
                      state->path);
      return FALSE;
    }
  name = json_string_value (json_object_get (root, "name"));
  if (!g_str_equal (name, state->name))
    return ferry_throw (error, FERRY_ERROR_CONFIG,
                        "state in %s belongs to deployment \"%s\", not \"%s\" (the name given); drop the --name, FERRY_NAME or config name, or use another --state-dir",
                        state->dir, name, state->name);
  json_decref (state->root);
  state->root = g_steal_pointer (&root);
  return TRUE;
}

gboolean
ferry_state_open (FerryState *state, gboolean create, gboolean lock, GError **error)
{
  gboolean ok;

  if (create && !ensure_dir (state, error))
    return FALSE;
  if (lock && g_file_test (state->dir, G_FILE_TEST_IS_DIR) && !take_lock (state, error))
    return FALSE;
  g_mutex_lock (&state->lock);
  ok = load (state, error);
  state->opened = TRUE;
  g_mutex_unlock (&state->lock);
  return ok;
}

void
ferry_state_unlock (FerryState *state)
{
  g_mutex_lock (&state->lock);
  if (state->lock_fd >= 0)
    {
      close (state->lock_fd);
      state->lock_fd = -1;
    }
  g_mutex_unlock (&state->lock);
}

static void
end_change (FerryState *state, gboolean took)
{
  if (took && state->lock_fd >= 0)
    {
      close (state->lock_fd);
      state->lock_fd = -1;
    }
}

/* A change to a state opened without the lock (run, push, pull) takes the lock for the time of
 * the change and applies it to what is on disk now, so a locked command's work (a teardown) is
 * never overwritten with what this process read earlier. A locked command holding it longer than
 * five seconds makes the change fail, saying so. Called with state->lock held. */
static gboolean
begin_change (FerryState *state, gboolean *out_took, GError **error)
{
  *out_took = FALSE;
  if (state->memory_only || state->lock_fd >= 0 || !state->opened)
    return TRUE;
  if (!ensure_dir (state, error))
    return FALSE;
  for (guint i = 0;; i++)
    {
      g_autoptr(GError) busy = NULL;
      if (take_lock (state, &busy))
        break;
      if (i >= 50)
        {
          g_propagate_error (error, g_steal_pointer (&busy));
          return FALSE;
        }
      ferry_sleep (100, NULL, NULL);
    }
  *out_took = TRUE;
  if (!load (state, error))
    {
      end_change (state, TRUE);
      return FALSE;
    }
  return TRUE;
}

static gboolean
save_locked (FerryState *state, GError **error)
{
  g_autofree char *text = json_dumps (state->root, JSON_INDENT (2) | JSON_SORT_KEYS);
  g_autofree char *with_nl = g_strconcat (text, "\n", NULL);

  if (state->memory_only)
    return TRUE;
  if (!ensure_dir (state, error))
    return FALSE;
  if (!g_file_set_contents_full (state->path, with_nl, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
                                 error))
    {
      g_prefix_error (error, "saving state: ");
      return FALSE;
    }
  return TRUE;
}

void
ferry_state_set_memory_only (FerryState *state)
{
  g_mutex_lock (&state->lock);
  state->memory_only = TRUE;
  g_mutex_unlock (&state->lock);
}

gboolean
ferry_state_save (FerryState *state, GError **error)
{
  gboolean ok;

  g_mutex_lock (&state->lock);
  ok = save_locked (state, error);
  g_mutex_unlock (&state->lock);
  return ok;
}

static json_t *
section (FerryState *state, const char *name)
{
  return json_object_get (state->root, name);
}

json_t *
ferry_state_dup_resource (FerryState *state, const char *kind)
{
  json_t *res;

  g_mutex_lock (&state->lock);
  res = json_deep_copy (json_object_get (section (state, "resources"), kind));
  g_mutex_unlock (&state->lock);
  return res;
}

char *
ferry_state_dup_resource_string (FerryState *state, const char *kind, const char *key)
{
  char *value;

  g_mutex_lock (&state->lock);
  value = g_strdup (
      json_string_value (json_object_get (json_object_get (section (state, "resources"), kind), key)));
  g_mutex_unlock (&state->lock);
  return value;
}

gboolean
ferry_state_has_resource (FerryState *state, const char *kind)
{
  gboolean has;

  g_mutex_lock (&state->lock);
  has = json_object_get (section (state, "resources"), kind) != NULL;
  g_mutex_unlock (&state->lock);
  return has;
}

gboolean
ferry_state_record (FerryState *state, const char *kind, json_t *resource, GError **error)
{
  gboolean ok, took;

  g_return_val_if_fail (json_is_string (json_object_get (resource, "id")), FALSE);

  g_mutex_lock (&state->lock);
  ok = begin_change (state, &took, error);
  if (ok)
    json_object_set (section (state, "resources"), kind, resource);
  ok = ok && save_locked (state, error);
  end_change (state, took);
  g_mutex_unlock (&state->lock);
  json_decref (resource);
  return ok;
}

gboolean
ferry_state_update (FerryState *state, const char *kind, const char *key, json_t *value,
                    GError **error)
{
  gboolean ok, took;
  json_t *res = NULL;

  g_mutex_lock (&state->lock);
  ok = begin_change (state, &took, error);
  if (ok)
    {
      res = json_object_get (section (state, "resources"), kind);
      if (res == NULL)
        ok = ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no %s in the state", kind);
    }
  if (ok)
    json_object_set (res, key, value);
  ok = ok && save_locked (state, error);
  end_change (state, took);
  g_mutex_unlock (&state->lock);
  json_decref (value);
  return ok;
}

gboolean
ferry_state_forget (FerryState *state, const char *kind, GError **error)
{
  gboolean ok, took;

  g_mutex_lock (&state->lock);
  ok = begin_change (state, &took, error);
  if (ok && json_object_del (section (state, "resources"), kind) == 0)
    ok = save_locked (state, error);
  end_change (state, took);
  g_mutex_unlock (&state->lock);
  return ok;
}

json_t *
ferry_state_dup_setting (FerryState *state, const char *key)
{
  json_t *value;

  g_mutex_lock (&state->lock);
  value = json_deep_copy (json_object_get (section (state, "settings"), key));
  g_mutex_unlock (&state->lock);
  return value;
}

char *
ferry_state_dup_setting_string (FerryState *state, const char *key)
{
  char *value;

  g_mutex_lock (&state->lock);
  value = g_strdup (json_string_value (json_object_get (section (state, "settings"), key)));
  g_mutex_unlock (&state->lock);
  return value;
}

gboolean
ferry_state_set_setting (FerryState *state, const char *key, json_t *value, GError **error)
{
  gboolean ok, took;

  g_mutex_lock (&state->lock);
  ok = begin_change (state, &took, error);
  if (ok && !json_equal (json_object_get (section (state, "settings"), key), value))
    {
      json_object_set (section (state, "settings"), key, value);
      ok = save_locked (state, error);
    }
  end_change (state, took);
  g_mutex_unlock (&state->lock);
  json_decref (value);
  return ok;
}

json_t *
ferry_state_dup_root (FerryState *state)
{
  json_t *root;

  g_mutex_lock (&state->lock);
  root = json_deep_copy (state->root);
  g_mutex_unlock (&state->lock);
  return root;
}
