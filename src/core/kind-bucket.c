/* The bucket: created in the deployment's region (recorded as "creating" before it exists, so an
 * interrupted ferry still knows it), tagged, public access blocked; a bucket of yours is used as it
 * is and never deleted. Found by its tag (one call per bucket: only the tag says whose it is).
 * Deleted only when empty, unless --force empties it. */
#include <glib/gstdio.h>

#include "kind-private.h"

/* --- ensure ------------------------------------------------------------------------------------- */

static gboolean
bucket_is_ours (FerryResources *res, const char *bucket, GCancellable *cancellable,
                gboolean *out_ours, GError **error)
{
  g_autofree char *owner = NULL;

  if (!ferry_kind_bucket_owner (res->aws, bucket, &owner, cancellable, error))
    return FALSE;
  *out_ours = g_strcmp0 (owner, ferry_res_name (res)) == 0;
  return TRUE;
}

static gboolean
bucket_tag (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *tagging = g_strdup_printf ("TagSet=[{Key=%s,Value=%s}]", FERRY_TAG_KEY,
                                              ferry_res_name (res));
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--bucket", (const char *) data, "--tagging", tagging, NULL);
  out = ferry_res_call (res, "s3api", "put-bucket-tagging", b, cancellable, error);
  return out != NULL;
}

static gboolean
bucket_block_public (FerryResources *res, gpointer data, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--bucket", (const char *) data,
                           "--public-access-block-configuration",
                           "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,"
                           "RestrictPublicBuckets=true",
                           NULL);
  out = ferry_res_call (res, "s3api", "put-public-access-block", b, cancellable, error);
  return out != NULL;
}

gboolean
ferry_bucket_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                     GError **error)
{
  const char *bucket = spec->bucket;
  g_autofree char *known = ferry_state_dup_resource_string (res->state, FERRY_KIND_BUCKET, "id");
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *location = NULL;
  const char *region = res->aws->region;

  g_autoptr(json_t) entry = ferry_state_dup_resource (res->state, FERRY_KIND_BUCKET);
  gboolean creating = json_is_true (json_object_get (entry, "creating"));

  if (bucket == NULL)
    return TRUE;
  if (!ferry_bucket_name_validate (bucket, error))
    return FALSE;
  if (known != NULL && !(creating && g_strcmp0 (known, bucket) == 0))
    {
      if (g_strcmp0 (known, bucket) == 0)
        return TRUE;
      return ferry_throw (error, FERRY_ERROR_USAGE,
                          "deployment %s already has bucket %s; run ferry teardown first, or use "
                          "another --name for bucket %s",
                          ferry_res_name (res), known, bucket);
    }

  /* Recorded before it exists, marked creating until tagged: a ferry killed right after
   * create-bucket still knows the (untagged) bucket is its own, and teardown finds it. */
  if (!creating)
    {
      json_t *r = ferry_resource_new (bucket, TRUE);
      json_object_set_new (r, "creating", json_true ());
      if (!ferry_res_record (res, FERRY_KIND_BUCKET, r, error))
        return FALSE;
    }
  g_strv_builder_add_many (b, "--bucket", bucket, NULL);
  if (region != NULL && strcmp (region, "us-east-1") != 0)
    {
      location = g_strconcat ("LocationConstraint=", region, NULL);
      g_strv_builder_add_many (b, "--create-bucket-configuration", location, NULL);
    }
  out = ferry_res_call (res, "s3api", "create-bucket", b, cancellable, &local_error);
  if (out == NULL && ferry_aws_error_has_code (local_error, "BucketAlreadyOwnedByYou"))
    {
      /* Made by an earlier, interrupted ferry (recorded as creating), or the user's own. */
      gboolean ours = creating;
      if (!ours && !bucket_is_ours (res, bucket, cancellable, &ours, error))
        return FALSE;
      if (!ferry_res_record (res, FERRY_KIND_BUCKET, ferry_resource_new (bucket, ours), error))
        return FALSE;
      if (!ours)
        {
          ferry_res_log (res, "using your existing bucket %s as it is (ferry will never delete it)",
                   bucket);
          return TRUE;
        }
    }
  else if (out == NULL && ferry_aws_error_has_code (local_error, "BucketAlreadyExists"))
    {
      if (!res->dry_run && !ferry_state_forget (res->state, FERRY_KIND_BUCKET, error))
        return FALSE;
      return ferry_throw (error, FERRY_ERROR_FAILED,
                          "bucket name %s is taken by another AWS account; choose another --bucket",
                          bucket);
    }
  else if (out == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (!ferry_res_run_both (res, bucket_tag, bucket_block_public, (gpointer) bucket, cancellable, error)
      || !ferry_res_record (res, FERRY_KIND_BUCKET, ferry_resource_new (bucket, TRUE), error))
    return FALSE;
  ferry_res_log (res, "created bucket %s (private, public access blocked)", bucket);
  return TRUE;
}

/* --- discover ----------------------------------------------------------------------------------- */

/* One bucket whose tag is to be read. */
typedef struct
{
  FerryDiscovery *d;
  char *name;
  GDateTime *created_at;
} Lookup;

static void
lookup_free (Lookup *l)
{
  g_free (l->name);
  g_clear_pointer (&l->created_at, g_date_time_unref);
  g_free (l);
}

static gboolean
lookup_bucket (gpointer data, GCancellable *cancellable, GError **error)
{
  Lookup *l = data;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *owner = NULL;
  FerryFound *found;

  /* Untagged, gone meanwhile (NoSuchBucket), or closed to us by its policy: not ferry's. Anything
   * else (a transient failure) must not hide a bucket that is. */
  if (!ferry_kind_bucket_owner (l->d->aws, l->name, &owner, cancellable, &local_error))
    {
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND)
          || ferry_aws_error_has_code (local_error, "AccessDenied"))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "reading the tags of bucket %s: ", l->name);
      return FALSE;
    }
  if (!ferry_discovery_owner_matches (l->d, owner))
    return TRUE;
  found = ferry_found_new (FERRY_KIND_BUCKET, l->name);
  found->owner = g_strdup (owner);
  found->created_at = l->created_at ? g_date_time_ref (l->created_at) : NULL;
  found->live = TRUE;
  ferry_discovery_add (l->d, found);
  return TRUE;
}

gboolean
ferry_bucket_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) root
      = ferry_aws_call (d->aws, "s3api", "list-buckets", NULL, cancellable, error);
  g_autoptr(GPtrArray) lookups = g_ptr_array_new_with_free_func ((GDestroyNotify) lookup_free);
  json_t *buckets = NULL, *bucket;
  size_t i;

  if (root == NULL)
    return FALSE;
  if (!ferry_json_unpack (root, "aws s3api list-buckets", error, "{s:o}", "Buckets", &buckets))
    return FALSE;
  json_array_foreach (buckets, i, bucket)
    {
      Lookup *l;
      if (!json_is_string (json_object_get (bucket, "Name")))
        continue;
      l = g_new0 (Lookup, 1);
      l->d = d;
      l->name = ferry_json_dup_string (json_object_get (bucket, "Name"));
      l->created_at = ferry_json_time (json_object_get (bucket, "CreationDate"));
      g_ptr_array_add (lookups, l);
    }
  return ferry_run_all (lookup_bucket, lookups->pdata, lookups->len, 4, cancellable, error);
}

/* --- delete ------------------------------------------------------------------------------------- */

/* Every version and delete marker, a thousand at a time (delete-objects' limit). */
static gboolean
empty_bucket (FerryTeardown *td, const char *bucket, GCancellable *cancellable, GError **error)
{
  const char *list_args[] = { "--bucket", bucket, NULL };
  g_autoptr(json_t) listing
      = ferry_aws_call (td->aws, "s3api", "list-object-versions", list_args, cancellable, error);
  g_autoptr(json_t) objects = json_array ();
  const char *members[] = { "Versions", "DeleteMarkers" };
  guint n_deleted = 0;

  if (listing == NULL)
    return FALSE;
  for (guint m = 0; m < G_N_ELEMENTS (members); m++)
    {
      json_t *v;
      size_t i;
      json_array_foreach (json_object_get (listing, members[m]), i, v)
        {
          json_t *key = json_object_get (v, "Key");
          json_t *version = json_object_get (v, "VersionId");
          if (!json_is_string (key))
            continue;
          if (json_is_string (version))
            json_array_append_new (objects,
                                   json_pack ("{s:O, s:O}", "Key", key, "VersionId", version));
          else
            json_array_append_new (objects, json_pack ("{s:O}", "Key", key));
        }
    }

  for (size_t start = 0; start < json_array_size (objects); start += 1000)
    {
      g_autoptr(json_t) batch = json_array ();
      g_autoptr(json_t) request = NULL;
      g_autoptr(json_t) result = NULL;
      g_autofree char *text = NULL;
      g_autofree char *tmp = NULL;
      g_autofree char *url = NULL;
      json_t *errors;
      int fd;

      for (size_t i = start; i < MIN (start + 1000, json_array_size (objects)); i++)
        json_array_append (batch, json_array_get (objects, i));
      request = json_pack ("{s:O, s:b}", "Objects", batch, "Quiet", TRUE);
      text = json_dumps (request, JSON_COMPACT);
      /* A thousand keys do not go into an argv: the request is a file aws reads. */
      fd = g_file_open_tmp ("ferry-delete-XXXXXX.json", &tmp, error);
      if (fd < 0)
        return FALSE;
      close (fd);
      if (!g_file_set_contents_full (tmp, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, error))
        {
          g_unlink (tmp);
          return FALSE;
        }
      url = g_strconcat ("file://", tmp, NULL);
      {
        const char *args[] = { "--bucket", bucket, "--delete", url, NULL };
        result = ferry_aws_call (td->aws, "s3api", "delete-objects", args, cancellable, error);
      }
      g_unlink (tmp);
      if (result == NULL)
        return FALSE;
      errors = json_object_get (result, "Errors");
      if (json_array_size (errors) > 0)
        return ferry_throw (
            error, FERRY_ERROR_FAILED, "emptying bucket %s: %s: %s", bucket,
            json_string_value (json_object_get (json_array_get (errors, 0), "Key")),
            json_string_value (json_object_get (json_array_get (errors, 0), "Message")));
      n_deleted += json_array_size (batch);
    }
  if (!td->aws->dry_run && n_deleted > 0)
    ferry_td_log (td, "emptied bucket %s (%u objects and versions)", bucket, n_deleted);
  return TRUE;
}

static gboolean
bucket_is_empty (FerryTeardown *td, const char *bucket, gboolean *out_empty,
                 GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--bucket", bucket, "--max-keys", "1", NULL };
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) root
      = ferry_aws_call (td->aws, "s3api", "list-objects-v2", args, cancellable, &local_error);

  *out_empty = TRUE;
  if (root == NULL)
    {
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *out_empty = json_array_size (json_object_get (root, "Contents")) == 0;
  return TRUE;
}

gboolean
ferry_bucket_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                     GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      const char *args[] = { "--bucket", item->id, NULL };
      g_autoptr(GError) local_error = NULL;
      gboolean gone = FALSE;

      if (td->aws->dry_run)
        {
          gboolean empty = TRUE;
          if (!bucket_is_empty (td, item->id, &empty, cancellable, error))
            return FALSE;
          if (!empty && !td->force)
            ferry_td_log (td, "bucket %s is not empty: without --force, teardown will keep it", item->id);
          else if (!empty && !empty_bucket (td, item->id, cancellable, error))
            return FALSE;
        }
      if (!ferry_td_delete_call (td, "s3api", "delete-bucket", args, NULL, &gone, cancellable, &local_error))
        {
          if (!ferry_aws_error_has_code (local_error, "BucketNotEmpty"))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (!td->force)
            return ferry_throw (error, FERRY_ERROR_FAILED,
                                "bucket %s is not empty, so it was kept; save what it holds, then "
                                "run `ferry teardown --force` to delete it with its contents",
                                item->id);
          if (!empty_bucket (td, item->id, cancellable, error)
              || !ferry_td_delete_call (td, "s3api", "delete-bucket", args, NULL, &gone, cancellable, error))
            return FALSE;
        }
      if (!ferry_td_done (td, item, gone, error))
        return FALSE;
    }
  return TRUE;
}
