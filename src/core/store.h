/* The deployment's bucket as a content-addressed store of a run's inputs and saved outputs. */
#pragma once

#include "ferry-common.h"
#include "aws.h"
#include "remote.h"

G_BEGIN_DECLS

/* Where everything lives in the bucket (the layout is the contract between this file and
 * templates/ferry-store, which does the instance's side):
 *   PREFIX objects/SHA256            one large file's content, whole (multipart above the PUT limit)
 *   PREFIX packs/SHA256.tar          small files' contents, an uncompressed tar whose members are
 *                                    named by their SHA-256; SHA256 is the tar's own hash
 *   PREFIX packs/SHA256.json         that pack's members: {"members": {"SHA256": size, ...}}, written
 *                                    after the tar (a pack without it is unknown, as if absent)
 *   PREFIX manifests/TIME-KIND-RAND.json  one push or save (see below), written last
 * A manifest: {"ferry_store_manifest": 1, "kind": "push"|"save", "created": ISO 8601 UTC,
 * "deployment", "host", "targets": [...], "units": [paths as given: a directory() is one unit],
 * "files", "bytes", "entries": [{"path", "type": "file"|"symlink"|"dir", "mode", "mtime_ns",
 * "size", "sha256", "pack" (the pack's SHA-256, absent for an object), "link" (an earlier path of
 * the same hard-link group), "target" (a symlink's)}]}. */
#define FERRY_STORE_PREFIX "ferry-store/"

typedef struct _FerryStore FerryStore;

/* A store in `bucket`, driven through `aws` (borrowed: it outlives the store). Its local files
 * (the hash index, multipart records, cached pack lists and manifests) live under
 * STATE_DIR/store/. FERRY_STORE_PUT_LIMIT (bytes; for tests only) scales the single-PUT limit and
 * the part size down so that a small file exercises the multipart path. */
FerryStore *ferry_store_new (FerryAws *aws, const char *bucket, const char *state_dir);
void ferry_store_free (FerryStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryStore, ferry_store_free)
const char *ferry_store_get_bucket (FerryStore *store);
void ferry_store_set_log (FerryStore *store, FerryLogFunc log, gpointer log_data);

typedef struct
{
  guint files;            /* regular files in the manifest */
  guint64 bytes;          /* their bytes */
  guint files_hashed;     /* files read to hash (the others were a stat in the index) */
  guint objects_uploaded; /* objects and packs put (manifest and pack lists aside) */
  guint64 bytes_uploaded; /* content bytes sent to the bucket */
  guint files_stored;     /* files whose content the bucket already had */
  guint puts;             /* PUT requests of every kind, manifest included */
} FerryStoreStats;

/* Laptop -> bucket. Stores `paths` (relative to the current dir; directories whole) and returns
 * the new manifest's key (under PREFIX manifests/). Only content the bucket lacks goes up (one
 * listing of the store); an unchanged file is a stat, through the index keyed by (dev, inode,
 * size, mtime ns). A multipart upload cut short resumes from STATE_DIR/store/uploads/. `kind` is
 * "push" or "save"; `meta` (may be NULL) adds members (targets, deployment) to the manifest. */
char *ferry_store_push (FerryStore *store, const char *const *paths, const char *kind,
                        json_t *meta, FerryStoreStats *stats, GCancellable *cancellable,
                        GError **error);

/* Lists what the bucket holds (one aws call, a CPU-second of start-up) for the next
 * ferry_store_push, which then lists nothing itself: a caller runs it beside other work (the
 * snakemake dry run that finds the paths to push; ferry_remote_push_early). A listing a little
 * older than the push is safe: content the bucket got since is only sent again. */
gboolean ferry_store_scan (FerryStore *store, GCancellable *cancellable, GError **error);

/* With `defer`, ferry_store_push writes the manifest locally only (the remote's restore gets it on
 * stdin) and ferry_store_put_manifest puts it, meanwhile: an aws process off the push's path. */
void ferry_store_set_defer_manifest (FerryStore *store, gboolean defer);
gboolean ferry_store_put_manifest (FerryStore *store, const char *key, GCancellable *cancellable,
                                   GError **error);
/* Drops the local copy of a deferred manifest that is not to be put (the remote needed nothing). */
void ferry_store_forget_manifest (FerryStore *store, const char *key);

/* What a restore on the remote did. */
typedef struct
{
  guint files;        /* regular files in the manifest */
  guint fetched;      /* files the remote had to get from the bucket */
  guint64 bytes;      /* bytes it downloaded */
  guint kept;         /* files its disk already had */
} FerryStoreRestoreStats;

/* Installs templates/ferry-store as REMOTE_DIR/.ferry/ferry-store on the remote (an idempotent
 * overwrite), for a run's agent to save with later. ferry_store_restore_remote and
 * ferry_store_save_remote need not: they send the script along and it installs itself. */
gboolean ferry_store_install_remote (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                                     GCancellable *cancellable, GError **error);

/* The remote command (a /bin/sh line, words quoted) that runs the installed script:
 *   python3 REMOTE_DIR/.ferry/ferry-store VERB --bucket B --prefix ferry-store/ --dir REMOTE_DIR
 *           [--region R] [--endpoint-url E]
 * with VERB "fetch" (add --manifest KEY: restores that manifest under --dir, downloading only what
 * the disk lacks, in parallel, every hash checked before a file takes its place; prints one JSON
 * line {"files", "fetched", "bytes", "kept"}) or "save" (reads NUL-separated paths relative to
 * --dir on stdin, stores them with the instance's own credentials, prints one JSON line
 * {"manifest": KEY, "files", "bytes", "uploaded"}; --kind and --meta JSON are optional). On the
 * instance itself (after a run, say) the same line runs without ssh: the arguments are all it
 * needs. */
char *ferry_store_remote_command (FerryStore *store, const char *remote_dir, const char *verb);

/* Bucket -> remote: restores manifest `key` into remote_dir, with the remote's own aws (an
 * instance's profile). */
gboolean ferry_store_restore_remote (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                                     const char *key, FerryStoreRestoreStats *stats,
                                     GCancellable *cancellable, GError **error);
/* As ferry_store_restore_remote, and once the restore is done the same script writes `record`
 * (may be NULL) as REMOTE_DIR/RECORD_NAME: one ssh command where a second wrote it after. */
gboolean ferry_store_restore_remote_full (FerryStore *store, FerryRemote *remote,
                                          const char *remote_dir, const char *key,
                                          const char *record_name, GBytes *record,
                                          FerryStoreRestoreStats *stats,
                                          GCancellable *cancellable, GError **error);

/* Remote -> bucket: the remote stores `paths` (relative to remote_dir; directories whole; those it
 * lacks are left out) and the manifest's key is returned. `meta` as for ferry_store_push. */
char *ferry_store_save_remote (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                               const char *const *paths, json_t *meta, GCancellable *cancellable,
                               GError **error);

/* Bucket -> laptop: the entries of manifest `key` under `allowed` (NULL: all) into the current
 * dir, every hash checked, then extracted with the secure rules of a pulled tar stream: an entry
 * with `..`, an absolute path or a link leading out refuses the whole manifest before anything is
 * written. */
gboolean ferry_store_pull (FerryStore *store, const char *key, const char *const *allowed,
                           FerryPullStats *stats, GCancellable *cancellable, GError **error);

/* The manifests, oldest first: each {"key", "kind", "created", "targets", "files", "bytes",
 * "last_modified", and what a run's agent adds: "run", "exit", "then", "cores", "snakemake_args",
 * and after a spot notice "interrupted" and "interruptions"} (read from the manifest,
 * cached in STATE_DIR/store/manifests/). */
json_t *ferry_store_list (FerryStore *store, GCancellable *cancellable, GError **error);

/* The newest "save" manifest holding every path of `paths` (a file, or a directory's entries),
 * or NULL with FERRY_ERROR_NOT_FOUND. */
char *ferry_store_find_saved (FerryStore *store, const char *const *paths,
                              GCancellable *cancellable, GError **error);

typedef struct
{
  guint objects;   /* every object under the prefix */
  guint64 bytes;
  guint manifests;
} FerryStoreUsage;

/* What the bucket's store holds (one listing). */
gboolean ferry_store_usage (FerryStore *store, FerryStoreUsage *usage, GCancellable *cancellable,
                            GError **error);

/* Deletes the manifests older than older_than_days (< 0: none; 0: all), then every object and
 * pack no remaining manifest references and older than a day (a push under way has written its
 * content but not yet its manifest). Counts what went. A manifest that cannot be read stops the
 * prune: what it references is not known. */
gboolean ferry_store_prune (FerryStore *store, int older_than_days, gboolean dry_run,
                            guint *out_manifests, guint *out_objects, guint64 *out_bytes,
                            GCancellable *cancellable, GError **error);

/* Validates one manifest (exposed for the unit tests): the schema, and each entry's path relative
 * and inside (no `..`, not absolute), a symlink's target inside, a hash of 64 hex digits. */
gboolean ferry_store_manifest_check (json_t *manifest, GError **error);

G_END_DECLS
