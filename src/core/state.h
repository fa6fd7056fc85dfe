/* .ferry/state.json: load, validate, atomic save, and the lock that keeps two ferries apart. */
#pragma once

#include "ferry-common.h"
#include "config.h"
#include "kinds.h"

G_BEGIN_DECLS

#define FERRY_STATE_SCHEMA "ferry-state"
#define FERRY_STATE_VERSION 1


typedef struct _FerryState FerryState;

/* The state of deployment `name` kept in `dir`. Nothing touches the disk until open. */
FerryState *ferry_state_new (const char *dir, const char *name);
void ferry_state_free (FerryState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryState, ferry_state_free)

/* The deployment name and kept settings of dir's state.json into `layer` (fields still NULL only),
 * read without the lock; a missing or unusable file leaves it as it is (open reports the latter). */
void ferry_state_peek_settings (const char *dir, FerryConfig *layer);

/* Loads state.json if present (an absent file is an empty state). A file that is not valid ferry
 * state, or belongs to another name, is an error and is left untouched. With `create`, the dir is
 * made 0700 with a .gitignore of `*`. With `lock`, an exclusive lock is held until the state is freed;
 * a second ferry on the same dir fails at once with a clear message. */
gboolean ferry_state_open (FerryState *state, gboolean create, gboolean lock, GError **error);

/* Lets go of the lock ferry_state_open took: from now on each change takes it for its own time, as
 * with a state opened without it (a long run must not keep ferry stop waiting elsewhere). */
void ferry_state_unlock (FerryState *state);

const char *ferry_state_get_dir (FerryState *state);
const char *ferry_state_get_name (FerryState *state);
/* A path under the state dir (the pem, logs, known_hosts, the ssh control socket...). */
char *ferry_state_path (FerryState *state, const char *relative);
char *ferry_state_pem_path (FerryState *state);
gboolean ferry_state_exists_on_disk (FerryState *state);

/* All accessors are thread-safe; values come back as new references or copies. */
json_t *ferry_state_dup_resource (FerryState *state, const char *kind);
char *ferry_state_dup_resource_string (FerryState *state, const char *kind, const char *key);
gboolean ferry_state_has_resource (FerryState *state, const char *kind);
/* Sets (steals `resource`, which must be an object with a string "id") and saves at once. */
gboolean ferry_state_record (FerryState *state, const char *kind, json_t *resource, GError **error);
/* Sets one member of an existing resource and saves. */
gboolean ferry_state_update (FerryState *state, const char *kind, const char *key, json_t *value,
                             GError **error);
gboolean ferry_state_forget (FerryState *state, const char *kind, GError **error);

/* Settings kept from bootstrap (ssh user and options, region, endpoint, ...). */
json_t *ferry_state_dup_setting (FerryState *state, const char *key);
char *ferry_state_dup_setting_string (FerryState *state, const char *key);
gboolean ferry_state_set_setting (FerryState *state, const char *key, json_t *value, GError **error);

/* The whole state as JSON (a copy), for `status --json`. */
json_t *ferry_state_dup_root (FerryState *state);

/* From now on changes stay in memory and nothing is written (--dry-run: later steps still see the
 * ids earlier ones found). */
void ferry_state_set_memory_only (FerryState *state);

gboolean ferry_state_save (FerryState *state, GError **error);

/* Validation of a parsed state document, exposed for the unit tests and the fuzzer. */
gboolean ferry_state_validate (json_t *root, GError **error);
json_t *ferry_state_parse (const char *text, gsize len, GError **error);

G_END_DECLS
