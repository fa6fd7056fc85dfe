/* The deployment's bucket as a content-addressed store: inputs pushed once, outputs saved there.
 *
 * Why it is built this way (README.md, "Store", says more):
 * - Files are addressed whole by SHA-256 (OpenSSL's: GLib's is 18 times slower here). Reference data changes a file at a time, not
 *   a few bytes inside one, so chunking would buy little for a lot of bookkeeping, and a whole-file
 *   hash is what a user can check with sha256sum.
 * - Files under 1 MiB go into packs (a plain tar written by libarchive, members named by their
 *   hash), so 100,000 files of 1 KB are a few PUTs; a pack's member list is an object beside it,
 *   and a pack is known only when both are there. Packs and the other objects are staged and go
 *   up in one `aws s3 cp --recursive` per GiB or so (an aws process costs a CPU-second of
 *   start-up). Files above the single-PUT limit go in parts, in parallel, resumable from a record
 *   in the state dir.
 * - Content objects are written under their hash, so writing one twice (two laptops, a retry)
 *   writes the same bytes; a manifest is written last and under a fresh name, so concurrent pushes
 *   never see each other's half-done work.
 * - What the bucket has is one listing (plus each new pack's member list, once: cached), cheaper
 *   than a HEAD per file at any size; an unchanged file is a stat through the local index keyed by
 *   (device, inode, size, mtime ns).
 * - The instance's side is templates/ferry-store (python3's standard library, the aws CLI), run
 *   over ssh or by the instance itself; every file it places is hashed first. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "archive.h"
#include "pool.h"
#include "remote-private.h"
#include "store.h"

#define MIB (1024 * 1024ULL)
#define PUT_LIMIT (64 * MIB)     /* above it a file goes up in parts */
/* Files smaller than this (and than the PUT limit) are packed. Objects go up in one aws process
 * whatever their number, so a pack only saves requests, and a copy of a file larger than this
 * (into the pack, out of it on the instance) costs more than the request it saves. */
#define PACK_BELOW (1 * MIB)
#define PACK_BYTES (64 * MIB)    /* a pack closes once it holds this much */
#define MAX_PARTS 10000          /* S3's limit on parts */
#define UPLOAD_JOBS 6            /* uploads at once */
#define CHUNK (1 * MIB)
#define ROUND_BYTES (1024 * MIB) /* staged for one aws process */

struct _FerryStore
{
  FerryAws *aws; /* borrowed */
  char *bucket;
  char *dir; /* STATE_DIR/store */
  guint64 put_limit;
  gboolean defer_manifest;
  GHashTable *scanned; /* what ferry_store_scan found, for the next push (sha256 -> "" or pack) */
  FerryLogFunc log;
  gpointer log_data;
};

FerryStore *
ferry_store_new (FerryAws *aws, const char *bucket, const char *state_dir)
{
  FerryStore *store = g_new0 (FerryStore, 1);
  const char *limit = g_getenv ("FERRY_STORE_PUT_LIMIT");

  store->aws = aws;
  store->bucket = g_strdup (bucket);
  store->dir = g_build_filename (state_dir, "store", NULL);
  store->put_limit = PUT_LIMIT;
  /* For tests only: S3 takes parts of 5 MiB and more, so the limit stays at least that. */
  if (limit != NULL && g_ascii_strtoull (limit, NULL, 10) > 0)
    store->put_limit = MAX (g_ascii_strtoull (limit, NULL, 10), 5 * MIB);
  return store;
}

void
ferry_store_free (FerryStore *store)
{
  if (store == NULL)
    return;
  g_free (store->bucket);
  g_free (store->dir);
  g_clear_pointer (&store->scanned, g_hash_table_unref);
  g_free (store);
}

const char *
ferry_store_get_bucket (FerryStore *store)
{
  return store->bucket;
}

void
ferry_store_set_log (FerryStore *store, FerryLogFunc log, gpointer log_data)
{
  store->log = log;
  store->log_data = log_data;
}

static void
store_say (FerryStore *store, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static void
store_say (FerryStore *store, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  if (store->log == NULL)
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  store->log (msg, store->log_data);
}

/* A directory under STATE_DIR/store, made 0700. */
static char *
store_local (FerryStore *store, const char *sub, GError **error)
{
  char *path = g_build_filename (store->dir, sub, NULL);

  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", path, g_strerror (errno));
      g_free (path);
      return NULL;
    }
  return path;
}

static gboolean
sha256_valid (const char *h)
{
  if (h == NULL || strlen (h) != 64)
    return FALSE;
  for (const char *p = h; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* SHA-256 in hex: Sha256 *s = sha256_new (); sha256_update (...); sha256_hex (s, out). */
typedef EVP_MD_CTX Sha256;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sha256, EVP_MD_CTX_free)

static Sha256 *
sha256_new (void)
{
  Sha256 *s = EVP_MD_CTX_new ();

  if (s == NULL || EVP_DigestInit_ex (s, EVP_sha256 (), NULL) != 1)
    g_error ("OpenSSL has no SHA-256");
  return s;
}

static void
sha256_update (Sha256 *s, const void *buf, size_t len)
{
  EVP_DigestUpdate (s, buf, len);
}

static void
sha256_hex (Sha256 *s, char out[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  EVP_DigestFinal_ex (s, md, &len);
  for (unsigned int i = 0; i < len && i < 32; i++)
    g_snprintf (out + 2 * i, 3, "%02x", md[i]);
  out[64] = '\0';
}

/* --- aws calls ------------------------------------------------------------------------------------ */

static json_t *
s3api (FerryStore *store, const char *op, const char *const *args, GCancellable *cancellable,
       GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;

  g_strv_builder_add_many (b, "--bucket", store->bucket, NULL);
  g_strv_builder_addv (b, (const char **) args);
  argv = g_strv_builder_end (b);
  return ferry_aws_call (store->aws, "s3api", op, (const char *const *) argv, cancellable, error);
}

static gboolean
put_file (FerryStore *store, const char *key, const char *path, GCancellable *cancellable,
          GError **error)
{
  const char *args[] = { "--key", key, "--body", path, NULL };
  g_autoptr(json_t) out = s3api (store, "put-object", args, cancellable, error);

  if (out == NULL)
    g_prefix_error (error, "uploading s3://%s/%s: ", store->bucket, key);
  return out != NULL;
}

static gboolean
get_file (FerryStore *store, const char *key, const char *path, GCancellable *cancellable,
          GError **error)
{
  const char *args[] = { "--key", key, path, NULL };
  g_autoptr(json_t) out = s3api (store, "get-object", args, cancellable, error);

  if (out == NULL)
    g_prefix_error (error, "downloading s3://%s/%s: ", store->bucket, key);
  return out != NULL;
}

/* Every object under PREFIX/sub: [{"Key", "Size", "LastModified"}] (aws-cli pages through). */
static json_t *
list_objects (FerryStore *store, const char *sub, GCancellable *cancellable, GError **error)
{
  g_autofree char *prefix = g_strconcat (FERRY_STORE_PREFIX, sub, NULL);
  const char *args[] = { "--prefix", prefix, NULL };
  g_autoptr(json_t) out = s3api (store, "list-objects-v2", args, cancellable, error);
  json_t *contents;

  if (out == NULL)
    {
      g_prefix_error (error, "listing s3://%s/%s: ", store->bucket, prefix);
      return NULL;
    }
  contents = json_object_get (out, "Contents");
  return json_is_array (contents) ? json_incref (contents) : json_array ();
}

/* A JSON document kept in a local cache dir (immutable in the bucket: pack lists, manifests), got
 * from the bucket the first time. */
static json_t *
get_json_cached (FerryStore *store, const char *key, const char *cache_sub,
                 GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = store_local (store, cache_sub, error);
  g_autofree char *base = NULL;
  g_autofree char *path = NULL;
  g_autofree char *tmp = NULL;
  json_error_t jerr;
  json_t *root;

  if (dir == NULL)
    return NULL;
  base = g_path_get_basename (key);
  path = g_build_filename (dir, base, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      tmp = g_strconcat (path, ".part", NULL);
      if (!get_file (store, key, tmp, cancellable, error))
        return NULL;
      if (rename (tmp, path) != 0)
        return (ferry_throw (error, FERRY_ERROR_FAILED, "cannot rename %s: %s", tmp,
                             g_strerror (errno)),
                NULL);
    }
  root = json_load_file (path, 0, &jerr);
  if (root == NULL || !json_is_object (root))
    {
      unlink (path);
      json_decref (root);
      return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "s3://%s/%s is not a ferry store document: %s",
                           store->bucket, key, jerr.text),
              NULL);
    }
  return root;
}

static gboolean
save_json (const char *path, json_t *root, GError **error)
{
  g_autofree char *text = json_dumps (root, JSON_COMPACT);

  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* --- what the bucket holds -------------------------------------------------------------------------- */

typedef struct
{
  GHashTable *have; /* sha256 -> "" (an object) or the pack's sha256 */
  guint64 objects;
  guint64 bytes;
} Holdings;

static void
holdings_clear (Holdings *h)
{
  g_clear_pointer (&h->have, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Holdings, holdings_clear)

/* The key's last component with `suffix` cut, when it is a hash. */
static char *
key_hash (const char *key, const char *dir, const char *suffix)
{
  const char *rest;
  g_autofree char *h = NULL;

  if (!g_str_has_prefix (key, FERRY_STORE_PREFIX))
    return NULL;
  rest = key + strlen (FERRY_STORE_PREFIX);
  if (!g_str_has_prefix (rest, dir))
    return NULL;
  rest += strlen (dir);
  if (!g_str_has_suffix (rest, suffix))
    return NULL;
  h = g_strndup (rest, strlen (rest) - strlen (suffix));
  return sha256_valid (h) ? g_steal_pointer (&h) : NULL;
}

static gboolean
holdings_scan (FerryStore *store, Holdings *h, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) list = list_objects (store, "", cancellable, error);
  g_autoptr(GHashTable) tars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) lists = g_ptr_array_new_with_free_func (g_free);
  size_t i;
  json_t *o;

  if (list == NULL)
    return FALSE;
  h->have = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  json_array_foreach (list, i, o)
    {
      const char *key = json_string_value (json_object_get (o, "Key"));
      char *sha;
      if (key == NULL)
        continue;
      h->objects++;
      h->bytes += json_integer_value (json_object_get (o, "Size"));
      if ((sha = key_hash (key, "objects/", "")) != NULL)
        g_hash_table_replace (h->have, sha, g_strdup (""));
      else if ((sha = key_hash (key, "packs/", ".tar")) != NULL)
        g_hash_table_add (tars, sha);
      else if ((sha = key_hash (key, "packs/", ".json")) != NULL)
        g_ptr_array_add (lists, sha);
    }
  for (guint k = 0; k < lists->len; k++)
    {
      const char *pack = lists->pdata[k];
      g_autofree char *key = NULL;
      g_autoptr(json_t) doc = NULL;
      const char *member;
      json_t *v;

      if (!g_hash_table_contains (tars, pack))
        continue;
      key = g_strdup_printf (FERRY_STORE_PREFIX "packs/%s.json", pack);
      doc = get_json_cached (store, key, "packs", cancellable, error);
      if (doc == NULL)
        return FALSE;
      json_object_foreach (json_object_get (doc, "members"), member, v)
        if (sha256_valid (member) && !g_hash_table_contains (h->have, member))
          g_hash_table_insert (h->have, g_strdup (member), g_strdup (pack));
    }
  return TRUE;
}

gboolean
ferry_store_scan (FerryStore *store, GCancellable *cancellable, GError **error)
{
  g_auto(Holdings) h = { 0 };

  if (!holdings_scan (store, &h, cancellable, error))
    return FALSE;
  g_clear_pointer (&store->scanned, g_hash_table_unref);
  store->scanned = g_steal_pointer (&h.have);
  return TRUE;
}

/* --- hashing, through the index ---------------------------------------------------------------------- */

static char *
index_key (const struct stat *st)
{
  return g_strdup_printf ("%ju:%ju:%jd:%jd.%09ld", (uintmax_t) st->st_dev, (uintmax_t) st->st_ino,
                          (intmax_t) st->st_size, (intmax_t) st->st_mtim.tv_sec,
                          (long) st->st_mtim.tv_nsec);
}

static char *
hash_file (const char *path, guint64 *out_size, GCancellable *cancellable, GError **error)
{
  g_autoptr(Sha256) sum = sha256_new ();
  g_autofree guchar *buf = g_malloc (CHUNK);
  char hex[65];
  guint64 size = 0;
  ssize_t n;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return (ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", path, g_strerror (errno)),
            NULL);
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  while ((n = read (fd, buf, CHUNK)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          close (fd);
          return (ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", path, g_strerror (e)),
                  NULL);
        }
      sha256_update (sum, buf, n);
      size += n;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return NULL;
        }
    }
  close (fd);
  if (out_size)
    *out_size = size;
  sha256_hex (sum, hex);
  return g_strdup (hex);
}

static char *
tmp_file (FerryStore *store, const char *stem, int *out_fd, GError **error)
{
  g_autofree char *dir = store_local (store, "tmp", error);
  char *path;

  if (dir == NULL)
    return NULL;
  path = g_strdup_printf ("%s/%s-XXXXXX", dir, stem);
  *out_fd = g_mkstemp_full (path, O_RDWR | O_CLOEXEC, 0600);
  if (*out_fd < 0)
    {
      ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", path, g_strerror (errno));
      g_free (path);
      return NULL;
    }
  return path;
}

/* --- upload work -------------------------------------------------------------------------------- */

/* Each aws process costs about a CPU-second of start-up, so a push makes few of them. What the
 * bucket lacks is staged in rounds of about ROUND_BYTES (packs as files, other objects as symlinks
 * named by their hash, laid out as in the bucket), and each round goes up in one `aws s3 cp
 * --recursive`, which sends its files and their parts in parallel. A round cut short resumes at
 * object granularity: the next push lists what arrived. Only a file above the single-PUT limit
 * goes by s3api multipart, its parts in parallel too, because that path resumes inside the file. */

typedef struct
{
  char *path;
  char *sha;
  guint64 size;
  char *index_key; /* the file's (dev, inode, size, mtime ns) when it was hashed */
  char *pack;      /* the pack it went into, once built */
} Content;

static void
content_free (Content *c)
{
  g_free (c->pack);
  g_free (c->path);
  g_free (c->sha);
  g_free (c->index_key);
  g_free (c);
}

typedef struct
{
  FerryStore *store;
  GMutex lock; /* guards stats, the multipart parts and `changed` */
  FerryStoreStats *stats;
  GPtrArray *changed; /* Content (borrowed) written to while the push read it */
} Batch;

/* An object goes up from the user's file, after it was hashed: a file written to in between
 * would be stored under a hash that is not its content's. The file is the same when its index
 * key is (size, mtime in ns, inode); if not, the push refuses it, names it, and keeps nothing of it:
 * not its object, not its index entry. Packs check the hash itself as they copy. */
static gboolean
content_refuse (Batch *b, Content *c, GError **error)
{
  g_mutex_lock (&b->lock);
  g_ptr_array_add (b->changed, c);
  g_mutex_unlock (&b->lock);
  return ferry_throw (error, FERRY_ERROR_FAILED,
                      "%s changed during the push (after it was hashed): nothing of it was "
                      "stored; push again once it is written", c->path);
}

/* TRUE (and refused) when the file is no longer the one hashed. */
static gboolean
content_changed (Batch *b, Content *c, GError **error)
{
  struct stat st;
  g_autofree char *now = lstat (c->path, &st) == 0 ? index_key (&st) : NULL;

  if (now != NULL && g_str_equal (now, c->index_key))
    return FALSE;
  content_refuse (b, c, error);
  return TRUE;
}

static void
batch_count (Batch *b, guint objects, guint64 bytes, guint puts)
{
  g_mutex_lock (&b->lock);
  b->stats->objects_uploaded += objects;
  b->stats->bytes_uploaded += bytes;
  b->stats->puts += puts;
  g_mutex_unlock (&b->lock);
}

/* One staging dir: its packs are built by steps of their own, then it goes up whole. */
typedef struct
{
  Batch *batch;
  char *dir;           /* STATE_DIR/store/tmp/stage-XXXXXX, with packs/ and objects/ */
  GPtrArray *linked;   /* Content (borrowed): the objects staged as symlinks */
  guint64 link_bytes;
  guint64 bytes;       /* everything staged, packs included */
  GPtrArray *packs;    /* Pack */
} Round;

typedef struct
{
  Round *round;
  GPtrArray *contents; /* Content, borrowed */
} Pack;

static void
pack_free (Pack *p)
{
  g_ptr_array_unref (p->contents);
  g_free (p);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (path, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        remove_tree (p);
      else
        unlink (p);
    }
  rmdir (path);
}

static void
round_free (Round *r)
{
  if (r->dir != NULL)
    remove_tree (r->dir);
  g_free (r->dir);
  g_ptr_array_unref (r->packs);
  g_ptr_array_unref (r->linked);
  g_free (r);
}

static Round *
round_new (Batch *b, GError **error)
{
  g_autofree char *tmp = store_local (b->store, "tmp", error);
  g_autofree char *dir = NULL;
  g_autofree char *packs = NULL;
  g_autofree char *objects = NULL;
  Round *r;

  if (tmp == NULL)
    return NULL;
  dir = g_build_filename (tmp, "stage-XXXXXX", NULL);
  if (g_mkdtemp (dir) == NULL)
    return (ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", dir, g_strerror (errno)),
            NULL);
  packs = g_build_filename (dir, "packs", NULL);
  objects = g_build_filename (dir, "objects", NULL);
  r = g_new0 (Round, 1);
  r->batch = b;
  r->dir = g_steal_pointer (&dir);
  r->packs = g_ptr_array_new_with_free_func ((GDestroyNotify) pack_free);
  r->linked = g_ptr_array_new ();
  if (mkdir (packs, 0700) != 0 || mkdir (objects, 0700) != 0)
    {
      ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", packs, g_strerror (errno));
      round_free (r);
      return NULL;
    }
  return r;
}

/* An object that goes up as it is: a symlink to it, named by its hash. */
static gboolean
round_link (Round *r, Content *c, GError **error)
{
  g_autofree char *target = g_canonicalize_filename (c->path, NULL);
  g_autofree char *link = g_build_filename (r->dir, "objects", c->sha, NULL);

  if (symlink (target, link) != 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", link, g_strerror (errno));
  g_ptr_array_add (r->linked, c);
  r->link_bytes += c->size;
  r->bytes += c->size;
  return TRUE;
}

static gboolean delete_keys (FerryStore *store, GPtrArray *keys, GCancellable *cancellable,
                             GError **error);

/* After a round went up (or was cut short): the objects whose files were written to since their
 * hash are deleted from the bucket, even when the push is being stopped (a wrong object under a
 * hash would stay wrong: no later push sends that hash again). */
static gboolean
round_check (Round *r, GError **error)
{
  g_autoptr(GPtrArray) doomed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) first = NULL;
  g_autoptr(GError) del_error = NULL;

  for (guint i = 0; i < r->linked->len; i++)
    {
      Content *c = r->linked->pdata[i];
      if (content_changed (r->batch, c, first == NULL ? &first : NULL))
        g_ptr_array_add (doomed, g_strdup_printf (FERRY_STORE_PREFIX "objects/%s", c->sha));
    }
  if (doomed->len == 0)
    return TRUE;
  delete_keys (r->batch->store, doomed, NULL, &del_error);
  g_autofree char *more = doomed->len > 1 ? g_strdup_printf (" (and %u other files)", doomed->len - 1)
                                          : g_strdup ("");
  g_set_error (error, first->domain, first->code, "%s%s%s%s", first->message, more,
               del_error ? "; deleting what went up failed: " : "", del_error ? del_error->message : "");
  return FALSE;
}

/* The round's one aws process: the whole staging dir into the store's prefix. */
static gboolean
round_upload (gpointer data, GCancellable *cancellable, GError **error)
{
  Round *r = data;
  FerryStore *store = r->batch->store;
  g_autofree char *dest = g_strdup_printf ("s3://%s/" FERRY_STORE_PREFIX, store->bucket);
  const char *args[] = { r->dir, dest, "--recursive", "--only-show-errors", NULL };
  g_autoptr(json_t) out = NULL;

  if (r->linked->len == 0 && r->packs->len == 0)
    return TRUE;
  out = ferry_aws_call (store->aws, "s3", "cp", args, cancellable, error);
  if (out == NULL)
    {
      round_check (r, NULL);
      g_prefix_error (error, "uploading to s3://%s/%s: ", store->bucket, FERRY_STORE_PREFIX);
      return FALSE;
    }
  if (!round_check (r, error))
    return FALSE;
  batch_count (r->batch, r->linked->len, r->link_bytes, r->linked->len);
  remove_tree (r->dir);
  g_clear_pointer (&r->dir, g_free);
  return TRUE;
}

/* A large file in parts, resumable: STATE_DIR/store/uploads/SHA.json records {"key", "upload_id",
 * "size", "part_size"} at the upload's creation; on a resume, list-parts says which parts the
 * bucket has (those of a push killed mid-way included), and only the others go up. */
typedef struct
{
  Batch *batch;
  Content *content; /* borrowed */
  char *key;
  char *rec_path;
  char *upload_id;
  json_t *parts; /* "N" -> ETag, guarded by the batch's lock */
  guint64 part_size;
  guint n_parts;
  guint sent;
} Multipart;

static void
multipart_free (Multipart *mp)
{
  g_free (mp->key);
  g_free (mp->rec_path);
  g_free (mp->upload_id);
  json_decref (mp->parts);
  g_free (mp);
}

typedef struct
{
  Multipart *mp;
  guint n;
} Part;

static guint64
part_length (Multipart *mp, guint n)
{
  return MIN (mp->part_size, mp->content->size - (guint64) (n - 1) * mp->part_size);
}

/* The parts the bucket already has of a recorded upload; FALSE with NoSuchUpload when it is gone. */
static gboolean
multipart_known_parts (Multipart *mp, GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--key", mp->key, "--upload-id", mp->upload_id, NULL };
  g_autoptr(json_t) out = s3api (mp->batch->store, "list-parts", args, cancellable, error);
  size_t i;
  json_t *p;

  if (out == NULL)
    return FALSE;
  json_array_foreach (json_object_get (out, "Parts"), i, p)
    {
      json_int_t n = json_integer_value (json_object_get (p, "PartNumber"));
      const char *etag = json_string_value (json_object_get (p, "ETag"));
      char num[16];
      if (n < 1 || n > mp->n_parts || etag == NULL
          || json_integer_value (json_object_get (p, "Size")) != (json_int_t) part_length (mp, n))
        continue;
      g_snprintf (num, sizeof num, "%u", (guint) n);
      json_object_set_new (mp->parts, num, json_string (etag));
    }
  return TRUE;
}

static gboolean
multipart_start (gpointer data, GCancellable *cancellable, GError **error)
{
  Multipart *mp = data;
  FerryStore *store = mp->batch->store;
  g_autoptr(json_t) rec = json_load_file (mp->rec_path, 0, NULL);
  g_autoptr(GError) local = NULL;
  const char *id = json_string_value (json_object_get (rec, "upload_id"));

  if (id != NULL && json_integer_value (json_object_get (rec, "size")) == (json_int_t) mp->content->size
      && json_integer_value (json_object_get (rec, "part_size")) == (json_int_t) mp->part_size)
    {
      mp->upload_id = g_strdup (id);
      if (multipart_known_parts (mp, cancellable, &local))
        {
          store_say (store, "resuming the upload of %s: %zu of %u parts are in the bucket",
                     mp->content->path, json_object_size (mp->parts), mp->n_parts);
          return TRUE;
        }
      if (!ferry_aws_error_has_code (local, "NoSuchUpload"))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local), "resuming the upload of %s: ",
                                      mp->content->path);
          return FALSE;
        }
      /* The upload was aborted (a lifecycle rule, say): start again. */
      g_clear_pointer (&mp->upload_id, g_free);
    }
  {
    const char *args[] = { "--key", mp->key, NULL };
    g_autoptr(json_t) out = s3api (store, "create-multipart-upload", args, cancellable, error);
    if (out == NULL)
      return FALSE;
    id = json_string_value (json_object_get (out, "UploadId"));
    if (id == NULL)
      return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                          "create-multipart-upload for %s gave no UploadId", mp->key);
    mp->upload_id = g_strdup (id);
  }
  g_clear_pointer (&rec, json_decref);
  rec = json_pack ("{s:s, s:s, s:I, s:I}", "key", mp->key, "upload_id", mp->upload_id, "size",
                   (json_int_t) mp->content->size, "part_size", (json_int_t) mp->part_size);
  return save_json (mp->rec_path, rec, error);
}

static gboolean
copy_range (int src, loff_t off, int dst, guint64 left, const char *what, GError **error)
{
  while (left > 0)
    {
      ssize_t w = copy_file_range (src, &off, dst, NULL, left, 0);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot copy a part of %s: %s", what,
                            g_strerror (w < 0 ? errno : EIO));
      left -= w;
    }
  return TRUE;
}

static gboolean
part_upload (gpointer data, GCancellable *cancellable, GError **error)
{
  Part *p = data;
  Multipart *mp = p->mp;
  Batch *b = mp->batch;
  g_autofree char *part_path = NULL;
  g_autoptr(json_t) out = NULL;
  g_autoptr(GError) local = NULL;
  char num[16];
  guint64 len = part_length (mp, p->n);
  gboolean have;
  gboolean ok;
  const char *etag;
  int src;
  int fd;

  g_snprintf (num, sizeof num, "%u", p->n);
  g_mutex_lock (&b->lock);
  have = json_object_get (mp->parts, num) != NULL;
  g_mutex_unlock (&b->lock);
  if (have)
    return TRUE;
  /* upload-part takes a whole file: the part is copied out (a reflink where the disk can). */
  part_path = tmp_file (b->store, "part", &fd, error);
  if (part_path == NULL)
    return FALSE;
  src = open (mp->content->path, O_RDONLY | O_CLOEXEC);
  if (src < 0)
    ok = ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", mp->content->path,
                      g_strerror (errno));
  else
    ok = copy_range (src, (loff_t) (p->n - 1) * mp->part_size, fd, len, mp->content->path, error);
  if (src >= 0)
    close (src);
  close (fd);
  if (ok)
    {
      const char *args[] = { "--key", mp->key, "--upload-id", mp->upload_id, "--part-number", num,
                             "--body", part_path, NULL };
      out = s3api (b->store, "upload-part", args, cancellable, &local);
    }
  unlink (part_path);
  if (!ok)
    return FALSE;
  if (out == NULL)
    {
      if (ferry_aws_error_has_code (local, "NoSuchUpload"))
        unlink (mp->rec_path); /* gone from the bucket: the next push starts it anew */
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "uploading part %u of %s: ",
                                  p->n, mp->content->path);
      return FALSE;
    }
  etag = json_string_value (json_object_get (out, "ETag"));
  if (etag == NULL)
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "upload-part gave no ETag for %s",
                        mp->content->path);
  g_mutex_lock (&b->lock);
  json_object_set_new (mp->parts, num, json_string (etag));
  mp->sent++;
  g_mutex_unlock (&b->lock);
  batch_count (b, 0, len, 1);
  return TRUE;
}

static gboolean
multipart_complete (gpointer data, GCancellable *cancellable, GError **error)
{
  Multipart *mp = data;
  g_autoptr(json_t) parts = json_array ();
  g_autoptr(json_t) body = NULL;
  g_autoptr(json_t) out = NULL;
  g_autofree char *text = NULL;

  /* Every part is read: the file must still be the one hashed, or the upload is dropped. */
  if (content_changed (mp->batch, mp->content, error))
    {
      const char *args[] = { "--key", mp->key, "--upload-id", mp->upload_id, NULL };
      g_autoptr(json_t) aborted = s3api (mp->batch->store, "abort-multipart-upload", args, NULL, NULL);
      unlink (mp->rec_path);
      return FALSE;
    }
  for (guint n = 1; n <= mp->n_parts; n++)
    {
      char num[16];
      g_snprintf (num, sizeof num, "%u", n);
      json_array_append_new (parts, json_pack ("{s:i, s:O}", "PartNumber", (int) n, "ETag",
                                               json_object_get (mp->parts, num)));
    }
  body = json_pack ("{s:O}", "Parts", parts);
  text = json_dumps (body, JSON_COMPACT);
  {
    const char *args[] = { "--key", mp->key, "--upload-id", mp->upload_id, "--multipart-upload",
                           text, NULL };
    out = s3api (mp->batch->store, "complete-multipart-upload", args, cancellable, error);
  }
  if (out == NULL)
    {
      g_prefix_error (error, "completing the upload of %s: ", mp->content->path);
      return FALSE;
    }
  unlink (mp->rec_path);
  batch_count (mp->batch, 1, 0, 1);
  return TRUE;
}

/* libarchive's writer into a file, hashing what it writes. */
typedef struct
{
  int fd;
  Sha256 *sum;
} PackSink;

static la_ssize_t
pack_write (struct archive *a, void *data, const void *buf, size_t len)
{
  PackSink *s = data;
  size_t done = 0;

  while (done < len)
    {
      ssize_t n = write (s->fd, (const char *) buf + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          archive_set_error (a, errno, "%s", g_strerror (errno));
          return -1;
        }
      done += n;
    }
  sha256_update (s->sum, buf, len);
  return len;
}



static gboolean
pack_add (FerryArchiveWrite *a, Batch *b, Content *c, guchar *buf, GCancellable *cancellable,
          GError **error)
{
  g_autoptr(FerryArchiveEntry) entry = archive_entry_new ();
  g_autoptr(Sha256) sum = sha256_new ();
  char hex[65];
  guint64 left = c->size;
  int fd = open (c->path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", c->path, g_strerror (errno));
  archive_entry_set_pathname (entry, c->sha);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_perm (entry, 0644);
  archive_entry_set_size (entry, c->size);
  if (!ferry_archive_check (a, archive_write_header (a, entry), c->path, error))
    {
      close (fd);
      return FALSE;
    }
  while (left > 0)
    {
      ssize_t n = read (fd, buf, MIN (left, (guint64) CHUNK));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; /* a file that shrank: refused below */
      if (archive_write_data (a, buf, n) < 0)
        {
          close (fd);
          return ferry_archive_check (a, ARCHIVE_FATAL, c->path, error);
        }
      sha256_update (sum, buf, n);
      left -= n;
    }
  close (fd);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  sha256_hex (sum, hex);
  if (left > 0 || !g_str_equal (hex, c->sha))
    return content_refuse (b, c, error);
  return ferry_archive_check (a, archive_write_finish_entry (a), c->path, error);
}


/* A pack: the tar of the contents (members named by hash) into the round's packs/SHA.tar, and its
 * member list beside it as packs/SHA.json. */
static gboolean
pack_build (gpointer data, GCancellable *cancellable, GError **error)
{
  Pack *p = data;
  Round *r = p->round;
  g_autoptr(FerryArchiveWrite) a = archive_write_new ();
  g_autoptr(Sha256) sum = sha256_new ();
  g_autofree guchar *buf = g_malloc (CHUNK);
  g_autofree char *path = g_build_filename (r->dir, "packs", "new-XXXXXX", NULL);
  g_autofree char *tar = NULL;
  g_autofree char *list = NULL;
  g_autoptr(json_t) members = json_object ();
  g_autoptr(json_t) doc = NULL;
  char sha[65];
  PackSink sink;
  guint64 bytes = 0;
  gboolean ok;
  int fd = g_mkstemp_full (path, O_RDWR | O_CLOEXEC, 0600);

  if (fd < 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", path, g_strerror (errno));
  sink.fd = fd;
  sink.sum = sum;
  ok = ferry_archive_open_raw (a, &sink, pack_write, "starting a pack", error);
  for (guint i = 0; ok && i < p->contents->len; i++)
    {
      Content *c = p->contents->pdata[i];
      ok = pack_add (a, r->batch, c, buf, cancellable, error);
      json_object_set_new (members, c->sha, json_integer (c->size));
      bytes += c->size;
    }
  ok = ok && ferry_archive_check (a, archive_write_close (a), "finishing a pack", error);
  close (fd);
  if (!ok)
    {
      unlink (path);
      return FALSE;
    }
  sha256_hex (sum, sha);
  for (guint i = 0; i < p->contents->len; i++)
    ((Content *) p->contents->pdata[i])->pack = g_strdup (sha);
  tar = g_strdup_printf ("%s/packs/%s.tar", r->dir, sha);
  list = g_strdup_printf ("%s/packs/%s.json", r->dir, sha);
  if (rename (path, tar) != 0)
    {
      unlink (path);
      return ferry_throw (error, FERRY_ERROR_FAILED, "cannot rename %s: %s", path, g_strerror (errno));
    }
  doc = json_pack ("{s:O}", "members", members);
  if (!save_json (list, doc, error))
    return FALSE;
  batch_count (r->batch, 1, bytes, 2);
  return TRUE;
}

/* Sends `missing` (Content) to the bucket: packs and mid-sized objects in staged rounds (at most two
 * rounds on disk at once), the large files in parts. */
static gboolean
upload_contents (FerryStore *store, GPtrArray *missing, FerryStoreStats *stats,
                 GPtrArray *changed, GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryPool) pool = ferry_pool_new (UPLOAD_JOBS, cancellable);
  g_autoptr(GPtrArray) rounds = g_ptr_array_new_with_free_func ((GDestroyNotify) round_free);
  g_autoptr(GPtrArray) mps = g_ptr_array_new_with_free_func ((GDestroyNotify) multipart_free);
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *uploads_dir = NULL;
  Pack *pack = NULL;
  Round *r = NULL;
  guint64 pack_bytes = 0;
  Batch b = { .store = store, .stats = stats, .changed = changed };
  gboolean ok;

  for (guint i = 0; i < missing->len; i++)
    {
      Content *c = missing->pdata[i];
      if (c->size > store->put_limit)
        {
          Multipart *mp = g_new0 (Multipart, 1);
          if (uploads_dir == NULL && (uploads_dir = store_local (store, "uploads", error)) == NULL)
            return FALSE;
          mp->batch = &b;
          mp->content = c;
          mp->key = g_strdup_printf (FERRY_STORE_PREFIX "objects/%s", c->sha);
          mp->rec_path = g_strdup_printf ("%s/%s.json", uploads_dir, c->sha);
          mp->parts = json_object ();
          mp->part_size = MAX (store->put_limit, (c->size + MAX_PARTS - 1) / MAX_PARTS);
          mp->n_parts = (c->size + mp->part_size - 1) / mp->part_size;
          g_ptr_array_add (mps, mp);
          continue;
        }
      if (r == NULL || r->bytes >= ROUND_BYTES)
        {
          if (pack != NULL)
            g_ptr_array_add (r->packs, g_steal_pointer (&pack));
          if ((r = round_new (&b, error)) == NULL)
            return FALSE;
          g_ptr_array_add (rounds, r);
        }
      if (c->size >= MIN (PACK_BELOW, store->put_limit))
        {
          if (!round_link (r, c, error))
            return FALSE;
          continue;
        }
      if (pack == NULL)
        {
          pack = g_new0 (Pack, 1);
          pack->round = r;
          pack->contents = g_ptr_array_new ();
          pack_bytes = 0;
        }
      g_ptr_array_add (pack->contents, c);
      pack_bytes += c->size + 1024;
      r->bytes += c->size;
      if (pack_bytes >= PACK_BYTES)
        g_ptr_array_add (r->packs, g_steal_pointer (&pack));
    }
  if (pack != NULL)
    g_ptr_array_add (r->packs, g_steal_pointer (&pack));

  for (guint k = 0; k < rounds->len; k++)
    {
      Round *round = rounds->pdata[k];
      g_autoptr(GStrvBuilder) built = g_strv_builder_new ();
      g_auto(GStrv) after = NULL;
      g_autofree char *name = g_strdup_printf ("upload %u", k);
      g_autofree char *two_back = g_strdup_printf ("upload %u", k - 2);
      const char *wait[] = { two_back, NULL };
      for (guint j = 0; j < round->packs->len; j++)
        {
          g_autofree char *pname = g_strdup_printf ("pack %u.%u", k, j);
          ferry_pool_add (pool, pname, pack_build, round->packs->pdata[j], k >= 2 ? wait : NULL,
                          NULL);
          g_strv_builder_add (built, pname);
        }
      after = g_strv_builder_end (built);
      ferry_pool_add (pool, name, round_upload, round, (const char *const *) after, NULL);
    }
  for (guint k = 0; k < mps->len; k++)
    {
      Multipart *mp = mps->pdata[k];
      g_autoptr(GStrvBuilder) built = g_strv_builder_new ();
      g_auto(GStrv) after = NULL;
      g_autofree char *start = g_strdup_printf ("start %u", k);
      g_autofree char *complete = g_strdup_printf ("complete %u", k);
      const char *wait[] = { start, NULL };
      ferry_pool_add (pool, start, multipart_start, mp, NULL, NULL);
      for (guint n = 1; n <= mp->n_parts; n++)
        {
          g_autofree char *pname = g_strdup_printf ("part %u.%u", k, n);
          Part *p = g_new0 (Part, 1);
          p->mp = mp;
          p->n = n;
          g_ptr_array_add (parts, p);
          ferry_pool_add (pool, pname, part_upload, p, wait, NULL);
          g_strv_builder_add (built, pname);
        }
      after = g_strv_builder_end (built);
      ferry_pool_add (pool, complete, multipart_complete, mp, (const char *const *) after, NULL);
    }
  g_mutex_init (&b.lock);
  ok = ferry_pool_run (pool, error);
  g_mutex_clear (&b.lock);
  return ok;
}

/* --- push ------------------------------------------------------------------------------------------ */

static json_t *
entry_new (const FerryArchiveMember *m)
{
  const struct stat *st = &m->st;
  json_int_t mtime_ns = (json_int_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;

  return json_pack ("{s:s, s:i, s:I}", "path", m->path, "mode", (int) (st->st_mode & 07777),
                    "mtime_ns", mtime_ns);
}

static char *
manifest_key_new (const char *kind)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");

  return g_strdup_printf (FERRY_STORE_PREFIX "manifests/%s-%s-%08x.json", stamp, kind,
                          g_random_int ());
}

/* The local copy of a manifest (the cache of those read, and of those written here). */
static char *
manifest_local (FerryStore *store, const char *key, GError **error)
{
  g_autofree char *dir = store_local (store, "manifests", error);
  g_autofree char *base = g_path_get_basename (key);

  return dir ? g_build_filename (dir, base, NULL) : NULL;
}

gboolean
ferry_store_put_manifest (FerryStore *store, const char *key, GCancellable *cancellable,
                          GError **error)
{
  g_autofree char *path = manifest_local (store, key, error);

  return path != NULL && put_file (store, key, path, cancellable, error);
}

void
ferry_store_forget_manifest (FerryStore *store, const char *key)
{
  g_autofree char *path = manifest_local (store, key, NULL);

  if (path != NULL)
    unlink (path);
}

void
ferry_store_set_defer_manifest (FerryStore *store, gboolean defer)
{
  store->defer_manifest = defer;
}

char *
ferry_store_push (FerryStore *store, const char *const *paths, const char *kind, json_t *meta,
                  FerryStoreStats *stats, GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryFileSet) set = NULL;
  g_auto(Holdings) h = { 0 };
  g_autofree char *index_dir = store_local (store, "", error);
  g_autofree char *index_path = NULL;
  g_autoptr(json_t) index = NULL;
  g_autoptr(json_t) new_index = json_object ();
  g_autoptr(json_t) entries = json_array ();
  g_autoptr(json_t) manifest = NULL;
  g_autoptr(GHashTable) links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) queued = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func ((GDestroyNotify) content_free);
  g_autoptr(GPtrArray) changed = g_ptr_array_new ();
  g_autofree char *mpath = NULL;
  g_autoptr(GError) index_error = NULL;
  g_autofree char *key = NULL;

  memset (stats, 0, sizeof *stats);
  if (index_dir == NULL)
    return NULL;
  set = ferry_file_set_new (paths, error);
  if (set == NULL)
    return NULL;
  if (store->scanned != NULL)
    h.have = g_steal_pointer (&store->scanned);
  else if (!holdings_scan (store, &h, cancellable, error))
    return NULL;
  index_path = g_build_filename (index_dir, "index.json", NULL);
  index = json_load_file (index_path, 0, NULL);
  if (!json_is_object (index))
    g_clear_pointer (&index, json_decref);

  for (guint i = 0; i < set->members->len; i++)
    {
      FerryArchiveMember *m = set->members->pdata[i];
      json_t *e = entry_new (m);
      json_array_append_new (entries, e);
      if (S_ISDIR (m->st.st_mode))
        json_object_set_new (e, "type", json_string ("dir"));
      else if (S_ISLNK (m->st.st_mode))
        {
          g_autofree char *target = g_file_read_link (m->path, error);
          if (target == NULL)
            return NULL;
          json_object_set_new (e, "type", json_string ("symlink"));
          json_object_set_new (e, "target", json_string (target));
        }
      else if (S_ISREG (m->st.st_mode))
        {
          g_autofree char *ik = index_key (&m->st);
          g_autofree char *link_id = g_strdup_printf ("%ju:%ju", (uintmax_t) m->st.st_dev,
                                                      (uintmax_t) m->st.st_ino);
          const char *first = m->st.st_nlink > 1 ? g_hash_table_lookup (links, link_id) : NULL;
          const char *known = index ? json_string_value (json_object_get (index, ik)) : NULL;
          g_autofree char *sha = NULL;
          const char *where;

          json_object_set_new (e, "type", json_string ("file"));
          json_object_set_new (e, "size", json_integer (m->st.st_size));
          if (first != NULL)
            json_object_set_new (e, "link", json_string (first));
          else if (m->st.st_nlink > 1)
            g_hash_table_insert (links, g_steal_pointer (&link_id), g_strdup (m->path));
          if (sha256_valid (known))
            sha = g_strdup (known);
          else
            {
              sha = hash_file (m->path, NULL, cancellable, error);
              if (sha == NULL)
                return NULL;
              stats->files_hashed++;
            }
          json_object_set_new (new_index, ik, json_string (sha));
          stats->files++;
          stats->bytes += m->st.st_size;
          where = g_hash_table_lookup (h.have, sha);
          if (where != NULL || g_hash_table_contains (queued, sha))
            {
              if (where != NULL)
                stats->files_stored++;
            }
          else
            {
              Content *c = g_new0 (Content, 1);
              c->path = g_strdup (m->path);
              c->sha = g_strdup (sha);
              c->size = m->st.st_size;
              c->index_key = g_strdup (ik);
              g_hash_table_add (queued, c->sha);
              g_ptr_array_add (missing, c);
            }
          /* Where the content is (or will be): a pack's entries say which. */
          json_object_set_new (e, "sha256", json_string (sha));
        }
    }
  /* The index keeps what it knew and what it learnt; written before the uploads, so a push cut
   * short does not hash again. */
  if (index != NULL)
    json_object_update_missing (new_index, index);
  if (!save_json (index_path, new_index, &index_error))
    store_say (store, "warning: the store's index was not saved: %s", index_error->message);

  if (!upload_contents (store, missing, stats, changed, cancellable, error))
    {
      /* A file written to during the push: the index forgets the hash it had for it. */
      for (guint i = 0; i < changed->len; i++)
        json_object_del (new_index, ((Content *) changed->pdata[i])->index_key);
      if (changed->len > 0)
        save_json (index_path, new_index, NULL);
      return NULL;
    }

  /* The packs just made: their members' entries name them. */
  for (guint i = 0; i < missing->len; i++)
    {
      Content *c = missing->pdata[i];
      g_hash_table_replace (h.have, g_strdup (c->sha), g_strdup (c->pack ? c->pack : ""));
    }
  {
    size_t i;
    json_t *e;
    json_array_foreach (entries, i, e)
      {
        const char *sha = json_string_value (json_object_get (e, "sha256"));
        const char *where = sha ? g_hash_table_lookup (h.have, sha) : NULL;
        if (where != NULL && *where != '\0')
          json_object_set_new (e, "pack", json_string (where));
      }
  }

  manifest = json_pack ("{s:i, s:s, s:s, s:s, s:I, s:I, s:O}", "ferry_store_manifest", 1, "kind",
                        kind, "created", "", "host", g_get_host_name (), "files",
                        (json_int_t) stats->files, "bytes", (json_int_t) stats->bytes, "entries",
                        entries);
  {
    g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
    g_autofree char *iso = g_date_time_format_iso8601 (now);
    json_object_set_new (manifest, "created", json_string (iso));
  }
  {
    g_autoptr(json_t) units = json_array ();
    for (guint i = 0; paths[i] != NULL; i++)
      json_array_append_new (units, json_string (paths[i]));
    json_object_set (manifest, "units", units);
  }
  if (meta != NULL)
    json_object_update_missing (manifest, meta);
  key = manifest_key_new (kind);
  mpath = manifest_local (store, key, error);
  if (mpath == NULL || !save_json (mpath, manifest, error))
    return NULL;
  if (!store->defer_manifest && !put_file (store, key, mpath, cancellable, error))
    return NULL;
  stats->puts++;
  return g_steal_pointer (&key);
}

/* --- manifests --------------------------------------------------------------------------------------- */

static gboolean
refuse (GError **error, const char *path, const char *why)
{
  return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "refusing the store manifest: entry \"%s\" %s",
                      path, why);
}

gboolean
ferry_store_manifest_check (json_t *manifest, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) symlinks = g_hash_table_new (g_str_hash, g_str_equal);
  json_t *entries = json_object_get (manifest, "entries");
  size_t i;
  json_t *e;

  if (!json_is_object (manifest)
      || json_integer_value (json_object_get (manifest, "ferry_store_manifest")) != 1
      || !json_is_array (entries))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "not a ferry store manifest (version 1 with entries)");
  json_array_foreach (entries, i, e)
    {
      const char *path = json_string_value (json_object_get (e, "path"));
      const char *type = json_string_value (json_object_get (e, "type"));
      if (path == NULL || type == NULL)
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "refusing the store manifest: entry %zu has no path or type", i);
      if (!ferry_archive_path_inside (path))
        return refuse (error, path, "leaves the workflow directory (absolute, or `..`)");
      for (char *slash = strchr (path, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
        {
          g_autofree char *parent = g_strndup (path, slash - path);
          if (g_hash_table_contains (symlinks, parent))
            return refuse (error, path, "would be written through a symlink of the manifest");
        }
      if (g_str_equal (type, "file"))
        {
          const char *link = json_string_value (json_object_get (e, "link"));
          const char *pack = json_string_value (json_object_get (e, "pack"));
          if (!sha256_valid (json_string_value (json_object_get (e, "sha256"))))
            return refuse (error, path, "has no valid sha256");
          if (pack != NULL && !sha256_valid (pack))
            return refuse (error, path, "names an invalid pack");
          if (json_integer_value (json_object_get (e, "size")) < 0)
            return refuse (error, path, "has a negative size");
          if (link != NULL && !g_hash_table_contains (seen, link))
            return refuse (error, path, "is a hard link to no earlier entry");
        }
      else if (g_str_equal (type, "symlink"))
        {
          const char *target = json_string_value (json_object_get (e, "target"));
          if (!ferry_archive_path_inside (target))
            return refuse (error, path, "is a link leading out of the workflow directory");
          g_hash_table_add (symlinks, (gpointer) path);
        }
      else if (!g_str_equal (type, "dir"))
        return refuse (error, path, "has an unknown type");
      g_hash_table_add (seen, (gpointer) path);
    }
  return TRUE;
}

static json_t *
manifest_get (FerryStore *store, const char *key, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) m = NULL;

  if (!g_str_has_prefix (key, FERRY_STORE_PREFIX "manifests/") || strchr (key + strlen (FERRY_STORE_PREFIX "manifests/"), '/'))
    return (ferry_throw (error, FERRY_ERROR_USAGE, "\"%s\" is not a manifest of the store", key), NULL);
  m = get_json_cached (store, key, "manifests", cancellable, error);
  if (m == NULL)
    return NULL;
  if (!ferry_store_manifest_check (m, error))
    {
      g_prefix_error (error, "s3://%s/%s: ", store->bucket, key);
      return NULL;
    }
  return g_steal_pointer (&m);
}

/* --- pull home ------------------------------------------------------------------------------------- */

/* Copies n bytes from the archive's current entry into a new file, checking its hash. */
static gboolean
verify_file (const char *path, const char *sha, GCancellable *cancellable, GError **error)
{
  g_autofree char *got = hash_file (path, NULL, cancellable, error);

  if (got == NULL)
    return FALSE;
  if (!g_str_equal (got, sha))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "corrupt object in the store: content %s hashes to %s; nothing was written",
                        sha, got);
  return TRUE;
}

static gboolean
unpack_members (FerryStore *store, const char *pack_path, const char *pack, GHashTable *wanted,
                const char *dir, GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryArchiveRead) a = archive_read_new ();
  struct archive_entry *entry;
  int r;

  archive_read_support_format_tar (a);
  if (archive_read_open_filename (a, pack_path, CHUNK) != ARCHIVE_OK)
    return ferry_archive_check (a, ARCHIVE_FATAL, pack_path, error);
  while ((r = archive_read_next_header (a, &entry)) == ARCHIVE_OK)
    {
      const char *name = archive_entry_pathname (entry);
      g_autoptr(Sha256) sum = NULL;
      char got[65];
      g_autofree char *out = NULL;
      g_autofree char *tmp = NULL;
      const void *buf;
      size_t size;
      la_int64_t offset;
      int fd;

      if (name == NULL || !sha256_valid (name) || !g_hash_table_contains (wanted, name))
        continue;
      sum = sha256_new ();
      out = g_build_filename (dir, name, NULL);
      tmp = g_strconcat (out, ".part", NULL);
      fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot write %s: %s", tmp, g_strerror (errno));
      while ((r = archive_read_data_block (a, &buf, &size, &offset)) == ARCHIVE_OK)
        {
          sha256_update (sum, buf, size);
          if (pwrite (fd, buf, size, offset) != (ssize_t) size)
            {
              close (fd);
              return ferry_throw (error, FERRY_ERROR_FAILED, "cannot write %s: %s", tmp,
                                  g_strerror (errno));
            }
        }
      close (fd);
      if (r != ARCHIVE_EOF)
        return ferry_archive_check (a, ARCHIVE_FATAL, pack_path, error);
      sha256_hex (sum, got);
      if (!g_str_equal (got, name))
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "corrupt pack %s in the store: member %s hashes to %s; nothing was "
                            "written",
                            pack, name, got);
      if (rename (tmp, out) != 0)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot rename %s: %s", tmp, g_strerror (errno));
      g_hash_table_remove (wanted, name);
    }
  if (r != ARCHIVE_EOF)
    return ferry_archive_check (a, ARCHIVE_FATAL, pack_path, error);
  return TRUE;
}

typedef struct
{
  int fd;
  json_t *entries; /* the selected ones */
  const char *dir; /* where the contents are, by hash */
  GError *error;
} PullWriter;

/* Writes the selected entries as a tar stream (content from the checked files) into the pipe. */
static gboolean
pull_write (PullWriter *pw, GError **error)
{
  g_autoptr(FerryArchiveWrite) a = archive_write_new ();
  g_autofree guchar *buf = g_malloc (CHUNK);
  size_t i;
  json_t *e;

  /* Full pax: the restricted form drops the nanoseconds of an mtime, which snakemake compares. */
  archive_write_set_format_pax (a);
  archive_write_set_bytes_in_last_block (a, 1);
  if (!ferry_archive_check (a, archive_write_open_fd (a, pw->fd), "the store's stream", error))
    return FALSE;
  json_array_foreach (pw->entries, i, e)
    {
      g_autoptr(FerryArchiveEntry) entry = archive_entry_new ();
      const char *path = json_string_value (json_object_get (e, "path"));
      const char *type = json_string_value (json_object_get (e, "type"));
      const char *link = json_string_value (json_object_get (e, "link"));
      json_int_t mtime_ns = json_integer_value (json_object_get (e, "mtime_ns"));
      int fd = -1;

      archive_entry_set_pathname (entry, path);
      archive_entry_set_perm (entry, json_integer_value (json_object_get (e, "mode")) & 07777);
      archive_entry_set_mtime (entry, mtime_ns / 1000000000, mtime_ns % 1000000000);
      if (g_str_equal (type, "dir"))
        archive_entry_set_filetype (entry, AE_IFDIR);
      else if (g_str_equal (type, "symlink"))
        {
          archive_entry_set_filetype (entry, AE_IFLNK);
          archive_entry_set_symlink (entry, json_string_value (json_object_get (e, "target")));
        }
      else if (link != NULL)
        {
          archive_entry_set_filetype (entry, AE_IFREG);
          archive_entry_set_hardlink (entry, link);
        }
      else
        {
          g_autofree char *src = g_build_filename (
              pw->dir, json_string_value (json_object_get (e, "sha256")), NULL);
          archive_entry_set_filetype (entry, AE_IFREG);
          archive_entry_set_size (entry, json_integer_value (json_object_get (e, "size")));
          fd = open (src, O_RDONLY | O_CLOEXEC);
          if (fd < 0)
            return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", src,
                                g_strerror (errno));
        }
      if (!ferry_archive_check (a, archive_write_header (a, entry), path, error))
        {
          if (fd >= 0)
            close (fd);
          return FALSE;
        }
      if (fd >= 0)
        {
          ssize_t n;
          while ((n = read (fd, buf, CHUNK)) > 0)
            if (archive_write_data (a, buf, n) < 0)
              break;
          close (fd);
        }
      archive_write_finish_entry (a);
    }
  return ferry_archive_check (a, archive_write_close (a), "the store's stream", error);
}

static gpointer
pull_writer (gpointer data)
{
  PullWriter *pw = data;

  pull_write (pw, &pw->error);
  /* The reader sees the end of the stream (a short one fails its extraction). */
  close (pw->fd);
  return NULL;
}

static gboolean
selected (const char *path, GHashTable *allowed)
{
  return allowed == NULL || ferry_archive_path_under (path, allowed);
}

gboolean
ferry_store_pull (FerryStore *store, const char *key, const char *const *allowed_paths,
                  FerryPullStats *stats, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) m = manifest_get (store, key, cancellable, error);
  g_autoptr(json_t) chosen = json_array ();
  g_autoptr(GHashTable) allowed = NULL;
  g_autoptr(GHashTable) objects = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) packs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                       (GDestroyNotify) g_hash_table_unref);
  g_autofree char *tmp_root = NULL;
  g_autofree char *dir = NULL;
  PullWriter pw = { 0 };
  GThread *thread;
  int fds[2];
  gboolean ok = TRUE;
  size_t i;
  json_t *e;

  memset (stats, 0, sizeof *stats);
  if (m == NULL)
    return FALSE;
  if (allowed_paths != NULL)
    {
      allowed = g_hash_table_new (g_str_hash, g_str_equal);
      for (i = 0; allowed_paths[i] != NULL; i++)
        g_hash_table_add (allowed, (gpointer) allowed_paths[i]);
    }
  json_array_foreach (json_object_get (m, "entries"), i, e)
    {
      const char *path = json_string_value (json_object_get (e, "path"));
      const char *sha = json_string_value (json_object_get (e, "sha256"));
      const char *pack = json_string_value (json_object_get (e, "pack"));
      if (!selected (path, allowed))
        continue;
      json_array_append (chosen, e);
      if (sha == NULL || json_object_get (e, "link") != NULL)
        continue;
      if (pack == NULL)
        g_hash_table_add (objects, (gpointer) sha);
      else
        {
          GHashTable *w = g_hash_table_lookup (packs, pack);
          if (w == NULL)
            {
              w = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
              g_hash_table_insert (packs, (gpointer) pack, w);
            }
          g_hash_table_add (w, g_strdup (sha));
        }
    }

  tmp_root = store_local (store, "tmp", error);
  if (tmp_root == NULL)
    return FALSE;
  dir = g_build_filename (tmp_root, "pull-XXXXXX", NULL);
  if (g_mkdtemp (dir) == NULL)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create %s: %s", dir, g_strerror (errno));

  {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, objects);
    while (ok && g_hash_table_iter_next (&it, &k, NULL))
      {
        g_autofree char *okey = g_strdup_printf (FERRY_STORE_PREFIX "objects/%s", (char *) k);
        g_autofree char *out = g_build_filename (dir, k, NULL);
        ok = get_file (store, okey, out, cancellable, error)
             && verify_file (out, k, cancellable, error);
      }
    g_hash_table_iter_init (&it, packs);
    while (ok && g_hash_table_iter_next (&it, &k, &v))
      {
        g_autofree char *pkey = g_strdup_printf (FERRY_STORE_PREFIX "packs/%s.tar", (char *) k);
        g_autofree char *out = g_build_filename (dir, "pack.tar", NULL);
        ok = get_file (store, pkey, out, cancellable, error)
             && unpack_members (store, out, k, v, dir, cancellable, error);
        unlink (out);
        if (ok && g_hash_table_size (v) > 0)
          ok = ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "pack %s in the store lacks %u of the contents the manifest puts there",
                            (char *) k, g_hash_table_size (v));
      }
  }

  if (ok)
    {
      if (pipe2 (fds, O_CLOEXEC) != 0)
        ok = ferry_throw (error, FERRY_ERROR_FAILED, "pipe: %s", g_strerror (errno));
    }
  if (ok)
    {
      pw.fd = fds[1];
      pw.entries = chosen;
      pw.dir = dir;
      thread = g_thread_new ("store-pull", pull_writer, &pw);
      ok = ferry_archive_extract_fd (fds[0], allowed_paths, &stats->entries, &stats->bytes, error);
      close (fds[0]);
      g_thread_join (thread);
      if (ok && pw.error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&pw.error));
          ok = FALSE;
        }
      g_clear_error (&pw.error);
    }

  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *p = g_build_filename (dir, name, NULL);
        unlink (p);
      }
    rmdir (dir);
  }
  return ok;
}

/* --- the remote's side --------------------------------------------------------------------------- */

/* The script's words after its path: VERB --bucket B --prefix P --dir D [--region R]
 * [--endpoint-url E]. */
static void
script_args (FerryStore *store, GString *cmd, const char *remote_dir, const char *verb)
{
  ferry_remote_cmd_word (cmd, verb);
  ferry_remote_cmd_op (cmd, "--bucket");
  ferry_remote_cmd_word (cmd, store->bucket);
  ferry_remote_cmd_op (cmd, "--prefix");
  ferry_remote_cmd_word (cmd, FERRY_STORE_PREFIX);
  ferry_remote_cmd_op (cmd, "--dir");
  ferry_remote_cmd_path (cmd, remote_dir);
  if (store->aws->region != NULL)
    {
      ferry_remote_cmd_op (cmd, "--region");
      ferry_remote_cmd_word (cmd, store->aws->region);
    }
  if (store->aws->endpoint_url != NULL)
    {
      ferry_remote_cmd_op (cmd, "--endpoint-url");
      ferry_remote_cmd_word (cmd, store->aws->endpoint_url);
    }
}

char *
ferry_store_remote_command (FerryStore *store, const char *remote_dir, const char *verb)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autofree char *script = g_strconcat (remote_dir, "/.ferry/ferry-store", NULL);

  ferry_remote_cmd_op (cmd, "python3");
  ferry_remote_cmd_path (cmd, script);
  script_args (store, cmd, remote_dir, verb);
  return g_string_free (g_steal_pointer (&cmd), FALSE);
}

gboolean
ferry_store_install_remote (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                            GCancellable *cancellable, GError **error)
{
  g_autofree char *script = NULL;
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autofree char *dot = g_strconcat (remote_dir, "/.ferry", NULL);
  g_autofree char *tmp = g_strconcat (remote_dir, "/.ferry/ferry-store.new", NULL);
  g_autofree char *dest = g_strconcat (remote_dir, "/.ferry/ferry-store", NULL);
  gsize len;
  g_autoptr(GBytes) input = NULL;

  if (!ferry_template_load ("ferry-store", &script, error))
    return FALSE;
  len = strlen (script);
  input = g_bytes_new_take (g_steal_pointer (&script), len);
  /* What the script needs, said by name: a remote without them fails here, not half-way. */
  ferry_remote_cmd_op (cmd, "for t in python3 aws; do $t --version >/dev/null 2>&1 || { echo"
                            " \"$t does not run on the remote (the store needs python3 and the aws"
                            " CLI there, on the PATH of ssh sessions)\" >&2; exit 3; }; done; mkdir -p");
  ferry_remote_cmd_path (cmd, dot);
  ferry_remote_cmd_op (cmd, "&& cat >");
  ferry_remote_cmd_path (cmd, tmp);
  ferry_remote_cmd_op (cmd, "&& mv -f");
  ferry_remote_cmd_path (cmd, tmp);
  ferry_remote_cmd_path (cmd, dest);
  if (!ferry_remote_capture_full (remote, cmd->str, input, NULL, NULL, cancellable, error))
    {
      g_prefix_error (error, "installing the store's script: ");
      return FALSE;
    }
  return TRUE;
}

/* python3 reads the script first on its stdin, installs it as REMOTE_DIR/.ferry/ferry-store (for
 * the instance's own later use: ferry_store_remote_command), and runs it on the rest of stdin: one
 * ssh command and one python3 where an install, its checks and the run were three. */
static const char boot[]
    = "import os, sys\n"
      "n, dest = int(sys.argv[1]), sys.argv[2]\n"
      "src = sys.stdin.buffer.read(n)\n"
      "os.makedirs(os.path.dirname(dest), exist_ok=True)\n"
      "with open(dest + '.new', 'wb') as f:\n"
      "    f.write(src)\n"
      "os.replace(dest + '.new', dest)\n"
      "sys.argv = [dest] + sys.argv[3:]\n"
      "exec(compile(src, dest, 'exec'), {'__name__': '__main__'})\n";

/* Runs the script's `verb` with `extra` words after the common ones, `input` on its stdin, and
 * parses the last line of its output. */
static json_t *
run_script (FerryStore *store, FerryRemote *remote, const char *remote_dir, const char *verb,
            const char *extra, GBytes *input, const char *what, GCancellable *cancellable,
            GError **error)
{
  g_autofree char *script = NULL;
  g_autofree char *dest = g_strconcat (remote_dir, "/.ferry/ferry-store", NULL);
  g_autofree char *len = NULL;
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autofree char *text = NULL;
  g_autofree char *last = NULL;
  json_error_t jerr;
  json_t *root;

  if (!ferry_template_load ("ferry-store", &script, error))
    return NULL;
  len = g_strdup_printf ("%zu", strlen (script));
  /* What the script needs, said by name: a remote without a python3 that runs (a shim whose
   * interpreter is not on the PATH, say) fails here, one without aws when the script first runs it. */
  ferry_remote_cmd_op (cmd, "python3 -c '' >/dev/null 2>&1 || { echo \"python3 does not run on"
                            " the remote (the store needs python3 and the aws CLI there, on the"
                            " PATH of ssh sessions)\" >&2; exit 3; }; python3 -c");
  ferry_remote_cmd_word (cmd, boot);
  ferry_remote_cmd_word (cmd, len);
  ferry_remote_cmd_path (cmd, dest);
  script_args (store, cmd, remote_dir, verb);
  if (extra != NULL && *extra != '\0')
    ferry_remote_cmd_op (cmd, extra);
  g_byte_array_append (all, (const guint8 *) script, strlen (script));
  if (input != NULL)
    g_byte_array_append (all, g_bytes_get_data (input, NULL), g_bytes_get_size (input));
  stdin_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&all));
  if (!ferry_remote_capture_full (remote, cmd->str, stdin_bytes, &out, NULL, cancellable, error))
    {
      g_prefix_error (error, "%s: ", what);
      return NULL;
    }
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  last = ferry_remote_last_line (text);
  root = json_loads (last, 0, &jerr);
  if (!json_is_object (root))
    {
      json_decref (root);
      return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "%s: unexpected answer \"%s\"", what,
                           last),
              NULL);
    }
  return root;
}

gboolean
ferry_store_restore_remote (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                            const char *key, FerryStoreRestoreStats *stats,
                            GCancellable *cancellable, GError **error)
{
  return ferry_store_restore_remote_full (store, remote, remote_dir, key, NULL, NULL, stats,
                                          cancellable, error);
}

gboolean
ferry_store_restore_remote_full (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                                 const char *key, const char *record_name, GBytes *record,
                                 FerryStoreRestoreStats *stats, GCancellable *cancellable,
                                 GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_autoptr(GBytes) input = NULL;
  g_autoptr(json_t) out = NULL;
  g_autofree char *what = NULL;
  g_autofree char *cached = manifest_local (store, key, NULL);
  g_autofree char *text = NULL;
  gsize len;

  memset (stats, 0, sizeof *stats);
  ferry_remote_cmd_op (cmd, "--manifest");
  ferry_remote_cmd_word (cmd, key);
  if (record != NULL)
    {
      g_autofree char *n = g_strdup_printf ("%zu", g_bytes_get_size (record));
      ferry_remote_cmd_op (cmd, "--record-file");
      ferry_remote_cmd_word (cmd, record_name);
      ferry_remote_cmd_op (cmd, "--record-bytes");
      ferry_remote_cmd_word (cmd, n);
      g_byte_array_append (all, g_bytes_get_data (record, NULL), g_bytes_get_size (record));
    }
  /* The manifest this laptop wrote goes along: the remote spares an aws process to get it. */
  if (cached != NULL && g_file_get_contents (cached, &text, &len, NULL))
    {
      ferry_remote_cmd_op (cmd, "--manifest-stdin");
      g_byte_array_append (all, (const guint8 *) text, len);
    }
  input = g_byte_array_free_to_bytes (g_steal_pointer (&all));
  what = g_strdup_printf ("%s fetching s3://%s/%s", remote->host, store->bucket, key);
  out = run_script (store, remote, remote_dir, "fetch", cmd->str, input, what, cancellable, error);
  if (out == NULL)
    return FALSE;
  stats->files = json_integer_value (json_object_get (out, "files"));
  stats->fetched = json_integer_value (json_object_get (out, "fetched"));
  stats->bytes = json_integer_value (json_object_get (out, "bytes"));
  stats->kept = json_integer_value (json_object_get (out, "kept"));
  return TRUE;
}

char *
ferry_store_save_remote (FerryStore *store, FerryRemote *remote, const char *remote_dir,
                         const char *const *paths, json_t *meta, GCancellable *cancellable,
                         GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GByteArray) list = g_byte_array_new ();
  g_autoptr(GBytes) input = NULL;
  g_autoptr(json_t) out = NULL;
  g_autofree char *what = g_strdup_printf ("saving the outputs on %s", remote->host);
  const char *key;

  for (guint i = 0; paths[i] != NULL; i++)
    {
      if (!ferry_archive_check_relative (paths[i], error))
        return NULL;
      g_byte_array_append (list, (const guint8 *) paths[i], strlen (paths[i]) + 1);
    }
  if (meta != NULL)
    {
      g_autofree char *text = json_dumps (meta, JSON_COMPACT);
      ferry_remote_cmd_op (cmd, "--meta");
      ferry_remote_cmd_word (cmd, text);
    }
  input = g_byte_array_free_to_bytes (g_steal_pointer (&list));
  out = run_script (store, remote, remote_dir, "save", cmd->str, input, what, cancellable, error);
  if (out == NULL)
    return NULL;
  key = json_string_value (json_object_get (out, "manifest"));
  if (key == NULL)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "%s: no manifest in the answer", what),
            NULL);
  return g_strdup (key);
}

/* --- listing, finding, usage, prune ------------------------------------------------------------ */

static gint64
age_seconds (json_t *o, GDateTime *now)
{
  const char *lm = json_string_value (json_object_get (o, "LastModified"));
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) t = lm ? g_date_time_new_from_iso8601 (lm, utc) : NULL;

  return t ? g_date_time_difference (now, t) / G_TIME_SPAN_SECOND : 0;
}

/* Called for each manifest of a listing: `m` is the manifest, or NULL for one past its age limit
 * (not read). */
typedef gboolean (*ManifestFunc) (const char *key, json_t *listed, json_t *m, gpointer data,
                                  GError **error);

/* The one walk over the manifests of a listing (oldest first: their keys begin with the time):
 * those older than older_than_days (< 0: none) are given unread; a manifest that cannot be read
 * fails the walk when `strict`, else it is said and skipped. */
static gboolean
manifests_foreach (FerryStore *store, json_t *list, int older_than_days, gboolean strict,
                   ManifestFunc fn, gpointer data, GCancellable *cancellable, GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  size_t i;
  json_t *o;

  json_array_foreach (list, i, o)
    {
      const char *key = json_string_value (json_object_get (o, "Key"));
      g_autoptr(json_t) m = NULL;
      g_autoptr(GError) local = NULL;
      if (key == NULL || !g_str_has_prefix (key, FERRY_STORE_PREFIX "manifests/")
          || !g_str_has_suffix (key, ".json"))
        continue;
      if (older_than_days >= 0 && age_seconds (o, now) >= (gint64) older_than_days * 86400)
        {
          if (!fn (key, o, NULL, data, error))
            return FALSE;
          continue;
        }
      m = manifest_get (store, key, cancellable, &local);
      if (m == NULL)
        {
          if (strict || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
          store_say (store, "skipping %s: %s", key, local->message);
          continue;
        }
      if (!fn (key, o, m, data, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
list_one (const char *key, json_t *o, json_t *m, gpointer data, GError **error)
{
  json_array_append_new (
      data, json_pack ("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O*, s:O*, s:O*, s:O*, s:O*,"
                       " s:O*, s:O*}",
                       "key", key, "kind", json_object_get (m, "kind"), "created",
                       json_object_get (m, "created"), "targets", json_object_get (m, "targets"), "files",
                       json_object_get (m, "files"), "bytes", json_object_get (m, "bytes"),
                       "last_modified", json_object_get (o, "LastModified"), "deployment",
                       json_object_get (m, "deployment"), "run", json_object_get (m, "run"), "exit",
                       json_object_get (m, "exit"), "interrupted", json_object_get (m, "interrupted"),
                       "interruptions", json_object_get (m, "interruptions"), "cores",
                       json_object_get (m, "cores"), "then", json_object_get (m, "then"),
                       "snakemake_args", json_object_get (m, "snakemake_args")));
  /* An interrupted run's instance: what status figures the interruption's cost from (and the
   * recovery starts from, with the address it mails). */
  {
    static const char *const spent[]
        = { "instance", "instance_type", "zone", "market", "launched", "interrupted_at", "notify", NULL };
    json_t *o_new = json_array_get (data, json_array_size (data) - 1);
    for (guint i = 0; spent[i] != NULL; i++)
      if (json_object_get (m, spent[i]) != NULL)
        json_object_set (o_new, spent[i], json_object_get (m, spent[i]));
  }
  return TRUE;
}

json_t *
ferry_store_list (FerryStore *store, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) list = list_objects (store, "manifests/", cancellable, error);
  g_autoptr(json_t) out = json_array ();

  if (list == NULL || !manifests_foreach (store, list, -1, FALSE, list_one, out, cancellable, error))
    return NULL;
  return g_steal_pointer (&out);
}

static gboolean
manifest_holds (json_t *m, const char *path)
{
  g_autofree char *under = g_strconcat (path, "/", NULL);
  size_t i;
  json_t *e;

  json_array_foreach (json_object_get (m, "entries"), i, e)
    {
      const char *p = json_string_value (json_object_get (e, "path"));
      if (g_str_equal (p, path) || g_str_has_prefix (p, under))
        return TRUE;
    }
  return FALSE;
}

char *
ferry_store_find_saved (FerryStore *store, const char *const *paths, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr(json_t) list = ferry_store_list (store, cancellable, error);

  if (list == NULL)
    return NULL;
  for (size_t i = json_array_size (list); i > 0; i--)
    {
      json_t *o = json_array_get (list, i - 1);
      const char *key = json_string_value (json_object_get (o, "key"));
      const char *kind = json_string_value (json_object_get (o, "kind"));
      g_autoptr(json_t) m = NULL;
      gboolean all = TRUE;
      if (kind == NULL || !g_str_equal (kind, "save"))
        continue;
      m = manifest_get (store, key, cancellable, error);
      if (m == NULL)
        return NULL;
      for (guint k = 0; all && paths[k] != NULL; k++)
        all = manifest_holds (m, paths[k]);
      if (all)
        return g_strdup (key);
    }
  return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                       "the store in s3://%s holds no saved outputs for this target (ferry run "
                       "--save stores them)",
                       store->bucket),
          NULL);
}

gboolean
ferry_store_usage (FerryStore *store, FerryStoreUsage *usage, GCancellable *cancellable,
                   GError **error)
{
  g_autoptr(json_t) list = list_objects (store, "", cancellable, error);
  size_t i;
  json_t *o;

  memset (usage, 0, sizeof *usage);
  if (list == NULL)
    return FALSE;
  json_array_foreach (list, i, o)
    {
      const char *key = json_string_value (json_object_get (o, "Key"));
      usage->objects++;
      usage->bytes += json_integer_value (json_object_get (o, "Size"));
      if (key != NULL && g_str_has_prefix (key, FERRY_STORE_PREFIX "manifests/"))
        usage->manifests++;
    }
  return TRUE;
}


static gboolean
delete_keys (FerryStore *store, GPtrArray *keys, GCancellable *cancellable, GError **error)
{
  for (guint start = 0; start < keys->len; start += 1000)
    {
      g_autoptr(json_t) objects = json_array ();
      g_autoptr(json_t) body = NULL;
      g_autoptr(json_t) out = NULL;
      g_autofree char *path = NULL;
      g_autofree char *arg = NULL;
      int fd;
      for (guint i = start; i < keys->len && i < start + 1000; i++)
        json_array_append_new (objects, json_pack ("{s:s}", "Key", (char *) keys->pdata[i]));
      body = json_pack ("{s:O, s:b}", "Objects", objects, "Quiet", 1);
      path = tmp_file (store, "delete", &fd, error);
      if (path == NULL)
        return FALSE;
      close (fd);
      if (!save_json (path, body, error))
        return FALSE;
      arg = g_strconcat ("file://", path, NULL);
      {
        const char *args[] = { "--delete", arg, NULL };
        out = s3api (store, "delete-objects", args, cancellable, error);
      }
      unlink (path);
      if (out == NULL)
        return FALSE;
    }
  return TRUE;
}

typedef struct
{
  GPtrArray *doomed;
  GHashTable *used; /* keys a kept manifest needs */
  guint *manifests;
  guint64 *bytes;
} Prune;

static gboolean
prune_one (const char *key, json_t *o, json_t *m, gpointer data, GError **error)
{
  Prune *p = data;
  size_t k;
  json_t *e;

  if (m == NULL)
    {
      g_ptr_array_add (p->doomed, g_strdup (key));
      (*p->manifests)++;
      *p->bytes += json_integer_value (json_object_get (o, "Size"));
      return TRUE;
    }
  json_array_foreach (json_object_get (m, "entries"), k, e)
    {
      const char *sha = json_string_value (json_object_get (e, "sha256"));
      const char *pack = json_string_value (json_object_get (e, "pack"));
      if (pack != NULL)
        {
          g_hash_table_add (p->used, g_strdup_printf (FERRY_STORE_PREFIX "packs/%s.tar", pack));
          g_hash_table_add (p->used, g_strdup_printf (FERRY_STORE_PREFIX "packs/%s.json", pack));
        }
      else if (sha != NULL)
        g_hash_table_add (p->used, g_strdup_printf (FERRY_STORE_PREFIX "objects/%s", sha));
    }
  return TRUE;
}

gboolean
ferry_store_prune (FerryStore *store, int older_than_days, gboolean dry_run,
                   guint *out_manifests, guint *out_objects, guint64 *out_bytes,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) list = list_objects (store, "", cancellable, error);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GPtrArray) doomed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *grace_env = g_getenv ("FERRY_STORE_PRUNE_GRACE_S");
  gint64 grace = grace_env ? g_ascii_strtoll (grace_env, NULL, 10) : 24 * 3600;
  Prune p = { .doomed = doomed, .used = used, .manifests = out_manifests, .bytes = out_bytes };
  size_t i;
  json_t *o;

  *out_manifests = *out_objects = 0;
  *out_bytes = 0;
  if (list == NULL)
    return FALSE;
  /* First the manifests: those kept say what is used. */
  if (!manifests_foreach (store, list, older_than_days, TRUE, prune_one, &p, cancellable, error))
    return FALSE;
  json_array_foreach (list, i, o)
    {
      const char *key = json_string_value (json_object_get (o, "Key"));
      if (key == NULL || g_str_has_prefix (key, FERRY_STORE_PREFIX "manifests/")
          || g_hash_table_contains (used, key) || age_seconds (o, now) < grace)
        continue;
      g_ptr_array_add (doomed, g_strdup (key));
      (*out_objects)++;
      *out_bytes += json_integer_value (json_object_get (o, "Size"));
    }
  if (dry_run || doomed->len == 0)
    return TRUE;
  return delete_keys (store, doomed, cancellable, error);
}
