/* Key pair <NAME> and its private key file: an ed25519 key made locally by ssh-keygen (the pem,
 * 0400 from the start, in the state dir), its public half imported and tagged; found by tag; deleted
 * by name, then the pem. */
#include <errno.h>
#include <glib/gstdio.h>

#include "kind-private.h"
#include "spawn.h"

/* --- ensure ------------------------------------------------------------------------------------- */

/* ssh-keygen into a fresh path under the 0700 state dir (ssh-keygen writes the private half 0600 and
 * nothing else can read into that dir), then 0400 before anything else. */
static gboolean
generate_key (FerryResources *res, const char *pem, GCancellable *cancellable, GError **error)
{
  g_autofree char *comment = g_strconcat ("ferry:", ferry_res_name (res), NULL);
  const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", pem,
                         NULL };

  if (res->dry_run)
    {
      g_autofree char *shown = ferry_argv_display (argv);
      g_autofree char *line = g_strconcat ("would run: ", shown, NULL);
      if (res->log)
        res->log (line, res->log_data);
      return TRUE;
    }
  if (!ferry_spawn_check (argv, NULL, NULL, NULL, cancellable, error))
    {
      /* ssh-keygen stopped (a sibling step failed, Ctrl-C) may have written both halves. */
      g_autofree char *pub = g_strconcat (pem, ".pub", NULL);

      g_unlink (pem);
      g_unlink (pub);
      return FALSE;
    }
  if (g_chmod (pem, 0400) != 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot make %s read-only: %s", pem,
                        g_strerror (errno));
  return TRUE;
}

/* The public half of an existing pem, into PEM.pub. */
static gboolean
write_public_half (const char *pem, const char *pub, GCancellable *cancellable, GError **error)
{
  const char *argv[] = { "ssh-keygen", "-y", "-f", pem, NULL };
  g_autofree char *out = NULL;

  if (!ferry_spawn_check (argv, NULL, NULL, &out, cancellable, error))
    return FALSE;
  return g_file_set_contents (pub, out, -1, error);
}

static json_t *
import_key (FerryResources *res, const char *pub, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *material = g_strconcat ("fileb://", pub, NULL);
  g_autofree char *tags = ferry_res_tag_specifications (res, "key-pair", FALSE);

  g_strv_builder_add_many (b, "--key-name", ferry_res_name (res), "--public-key-material", material,
                           "--tag-specifications", tags, NULL);
  return ferry_res_call (res, "ec2", "import-key-pair", b, cancellable, error);
}

static json_t *
describe_key_pair (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  json_t *pair;

  g_strv_builder_add_many (b, "--key-names", ferry_res_name (res), NULL);
  out = ferry_res_call (res, "ec2", "describe-key-pairs", b, cancellable, error);
  if (out == NULL)
    return NULL;
  pair = json_array_get (json_object_get (out, "KeyPairs"), 0);
  if (pair == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no key pair %s", ferry_res_name (res)), NULL);
  return json_incref (pair);
}

static gboolean
delete_key_pair (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--key-name", ferry_res_name (res), NULL);
  out = ferry_res_call (res, "ec2", "delete-key-pair", b, cancellable, error);
  return out != NULL;
}

static gboolean
record_key_pair (FerryResources *res, json_t *pair, GError **error)
{
  json_t *resource = ferry_resource_new (
      ferry_res_id_or_placeholder (res, json_object_get (pair, "KeyPairId"), "<key-pair-id>"), TRUE);

  json_object_set_new (resource, "name", json_string (ferry_res_name (res)));
  json_object_set (resource, "fingerprint", json_object_get (pair, "KeyFingerprint"));
  if (json_object_get (resource, "fingerprint") == NULL)
    json_object_set_new (resource, "fingerprint", json_string (""));
  return ferry_res_record (res, FERRY_KIND_KEY_PAIR, resource, error);
}

gboolean
ferry_key_pair_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                       GError **error)
{
  g_autofree char *pem = ferry_state_pem_path (res->state);
  g_autofree char *pub = g_strconcat (pem, ".pub", NULL);
  g_autoptr(json_t) pair = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean have_pem = g_file_test (pem, G_FILE_TEST_EXISTS);
  gboolean generated = FALSE;

  if (ferry_state_has_resource (res->state, FERRY_KIND_KEY_PAIR))
    {
      if (have_pem)
        return TRUE;
      /* Its private half is gone: the key pair is useless, and ferry made it. */
      ferry_res_log (res, "key pair %s: its pem %s is gone; replacing the key pair", ferry_res_name (res), pem);
      if (!delete_key_pair (res, cancellable, error))
        return FALSE;
      if (!res->dry_run && !ferry_state_forget (res->state, FERRY_KIND_KEY_PAIR, error))
        return FALSE;
    }

  g_unlink (pub);
  if (have_pem)
    {
      if (!write_public_half (pem, pub, cancellable, error))
        return FALSE;
    }
  else
    {
      if (!generate_key (res, pem, cancellable, error))
        return FALSE;
      generated = TRUE;
    }

  pair = import_key (res, pub, cancellable, &local_error);
  if (pair == NULL && ferry_aws_error_has_code (local_error, "InvalidKeyPair.Duplicate"))
    {
      g_autoptr(json_t) existing = describe_key_pair (res, cancellable, error);
      if (existing == NULL)
        goto fail;
      if (!ferry_res_tags_are_ours (res, json_object_get (existing, "Tags")))
        {
          ferry_throw (error, FERRY_ERROR_FAILED,
                       "an EC2 key pair named \"%s\" exists and ferry did not create it (no %s=%s "
                       "tag): delete it (aws ec2 delete-key-pair --key-name %s) or use another "
                       "--name",
                       ferry_res_name (res), FERRY_TAG_KEY, ferry_res_name (res), ferry_res_name (res));
          goto fail;
        }
      if (have_pem)
        {
          /* Imported by an earlier run cut short before it recorded it: same pem, same key. */
          g_unlink (pub);
          return record_key_pair (res, existing, error);
        }
      ferry_res_log (res, "key pair %s: ferry made it but its pem is gone; replacing it",
               ferry_res_name (res));
      if (!delete_key_pair (res, cancellable, error))
        goto fail;
      g_clear_error (&local_error);
      pair = import_key (res, pub, cancellable, &local_error);
    }
  if (pair == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      goto fail;
    }
  g_unlink (pub);
  if (!record_key_pair (res, pair, error))
    return FALSE;
  ferry_res_log (res, "created key pair %s (private key %s, mode 0400)", ferry_res_name (res), pem);
  return TRUE;

fail:
  g_unlink (pub);
  if (generated)
    g_unlink (pem);
  return FALSE;
}

/* --- discover ----------------------------------------------------------------------------------- */

gboolean
ferry_key_pair_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) keys
      = ferry_discovery_describe_tagged (d, "describe-key-pairs", "KeyPairs", NULL, cancellable, error);
  json_t *key;
  size_t i;

  if (keys == NULL)
    return FALSE;
  json_array_foreach (keys, i, key)
    {
      const char *id = json_string_value (json_object_get (key, "KeyPairId"));
      json_t *tags = json_object_get (key, "Tags");
      FerryFound *found;

      if (id == NULL || !ferry_discovery_owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = ferry_found_new (FERRY_KIND_KEY_PAIR, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = ferry_json_dup_string (json_object_get (key, "KeyName"));
      found->created_at = ferry_json_time (json_object_get (key, "CreateTime"));
      found->detail = ferry_json_dup_string (json_object_get (key, "KeyType"));
      found->live = TRUE;
      ferry_discovery_add (d, found);
    }
  return TRUE;
}

/* --- delete ------------------------------------------------------------------------------------- */

gboolean
ferry_key_pair_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                       GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      /* By name: the only way every EC2 implementation deletes a key pair. The tag on the key pair
       * with this name and id was seen, or the item would be kept. */
      const char *args[] = { item->aws_name ? "--key-name" : "--key-pair-id",
                             item->aws_name ? item->aws_name : item->id, NULL };

      if (!ferry_td_delete_item (td, item, "ec2", "delete-key-pair", args, NULL, cancellable,
                                 error))
        return FALSE;
    }
  return TRUE;
}

gboolean
ferry_pem_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable, GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];

      if (td->aws->dry_run)
        {
          const char *rm[] = { "rm", "-f", item->id, NULL };
          g_autofree char *shown = ferry_argv_display (rm);
          ferry_td_log (td, "would run: %s", shown);
        }
      else if (g_unlink (item->id) != 0 && errno != ENOENT)
        {
          int errsv = errno;
          return ferry_throw (error, FERRY_ERROR_FAILED, "removing %s: %s", item->id,
                              g_strerror (errsv));
        }
      else
        ferry_td_log (td, "removed key file %s", item->id);
    }
  return TRUE;
}
