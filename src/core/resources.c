/* The resources bootstrap makes: find (state, then name and tag), create tagged, record at once. */
#include "resources.h"
#include "snakemake.h"
#include "instance.h"
#include "spawn.h"
#include "pool.h"
#include "teardown.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

/* --- small helpers ------------------------------------------------------------------------------ */

static void
res_log (FerryResources *res, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
res_log (FerryResources *res, const char *fmt, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (res->log == NULL || res->dry_run)
    return;
  va_start (args, fmt);
  message = g_strdup_vprintf (fmt, args);
  va_end (args);
  res->log (message, res->log_data);
}

static const char *
res_name (FerryResources *res)
{
  return ferry_state_get_name (res->state);
}

/* The object `{"id": id, "created": created}`, with more members to be added. */
static json_t *
resource_new (const char *id, gboolean created)
{
  return json_pack ("{s:s, s:b}", "id", id, "created", created);
}

/* In dry-run the state is memory-only (see ferry_resources_init), so later steps see the ids. */
static gboolean
record (FerryResources *res, const char *kind, json_t *resource, GError **error)
{
  if (!ferry_state_record (res->state, kind, resource, error))
    return FALSE;
  if (res->recorded != NULL)
    res->recorded (kind, res->recorded_data);
  return TRUE;
}

/* Two independent steps at once, through the pool. */
typedef gboolean (*StepFunc) (FerryResources *res, gpointer data, GCancellable *cancellable,
                              GError **error);

typedef struct
{
  FerryResources *res;
  StepFunc func;
  gpointer data;
} Step;

static gboolean
step_run (gpointer data, GCancellable *cancellable, GError **error)
{
  Step *step = data;
  return step->func (step->res, step->data, cancellable, error);
}

static gboolean
run_both (FerryResources *res, StepFunc a, StepFunc b, gpointer data, GCancellable *cancellable,
          GError **error)
{
  g_autoptr(FerryPool) pool = ferry_pool_new (0, cancellable);
  Step first = { res, a, data }, second = { res, b, data };

  ferry_pool_add (pool, "first", step_run, &first, NULL, NULL);
  ferry_pool_add (pool, "second", step_run, &second, NULL, NULL);
  return ferry_pool_run (pool, error);
}

static gboolean
update (FerryResources *res, const char *kind, const char *key, json_t *value, GError **error)
{
  return ferry_state_update (res->state, kind, key, value, error);
}

/* --tag-specifications for one resource type, as JSON (no shorthand quoting to get wrong). */
static char *
tag_specifications (FerryResources *res, const char *type, gboolean with_name)
{
  g_autoptr(json_t) tags = json_pack ("[{s:s, s:s}]", "Key", FERRY_TAG_KEY, "Value", res_name (res));
  g_autoptr(json_t) spec = NULL;

  if (with_name)
    json_array_append_new (tags, json_pack ("{s:s, s:s}", "Key", "Name", "Value", res_name (res)));
  spec = json_pack ("[{s:s, s:O}]", "ResourceType", type, "Tags", tags);
  return json_dumps (spec, JSON_COMPACT);
}

/* Whether an aws Tags array ([{Key, Value}]) says ferry:name=<NAME>. */
static gboolean
tags_are_ours (FerryResources *res, json_t *tags)
{
  return g_strcmp0 (ferry_tags_owner (tags), res_name (res)) == 0;
}

static json_t *
aws_call (FerryResources *res, const char *service, const char *operation, GStrvBuilder *b,
          GCancellable *cancellable, GError **error)
{
  g_auto(GStrv) args = g_strv_builder_end (b);
  return ferry_aws_call (res->aws, service, operation, (const char *const *) args, cancellable,
                         error);
}

/* In dry-run a create call returns nothing; later calls show this in place of the id. */
static const char *
id_or_placeholder (FerryResources *res, json_t *value, const char *placeholder)
{
  const char *id = json_string_value (value);
  return id != NULL ? id : res->dry_run ? placeholder : NULL;
}

static gboolean
missing_member (GError **error, const char *operation, const char *member)
{
  return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                      "aws %s printed no %s; check that the endpoint is an AWS API", operation,
                      member);
}

/* --- validation --------------------------------------------------------------------------------- */

gboolean
ferry_cidr_is_ipv6 (const char *cidr)
{
  return strchr (cidr, ':') != NULL;
}

gboolean
ferry_cidr_validate (const char *text, gboolean allow_any, char **out_cidr, GError **error)
{
  g_autoptr(GInetAddressMask) mask = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *spec = NULL;
  const char *slash = strchr (text, '/');
  guint bits;

  if (slash != NULL)
    {
      const char *p = slash + 1;
      if (*p == '\0' || strspn (p, "0123456789") != strlen (p) || strlen (p) > 3)
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "invalid --cidr \"%s\": the prefix length must be a number", text);
      if (g_ascii_strtoull (p, NULL, 10) > (ferry_cidr_is_ipv6 (text) ? 128 : 32))
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "invalid --cidr \"%s\": the prefix length is at most %d", text,
                            ferry_cidr_is_ipv6 (text) ? 128 : 32);
      spec = g_strdup (text);
    }
  else
    spec = g_strconcat (text, ferry_cidr_is_ipv6 (text) ? "/128" : "/32", NULL);

  mask = g_inet_address_mask_new_from_string (spec, &local_error);
  if (mask == NULL)
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "invalid --cidr \"%s\": %s (give ADDRESS/PREFIX, e.g. 203.0.113.7/32)",
                        text, local_error->message);
  bits = g_inet_address_mask_get_length (mask);
  if (bits == 0 && !allow_any)
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "refusing --cidr %s: it opens SSH to the whole internet; give your own "
                        "address as a /32, or add --allow-any-source if you really mean it",
                        text);
  if (out_cidr)
    {
      g_autofree char *addr = g_inet_address_to_string (g_inet_address_mask_get_address (mask));
      *out_cidr = g_strdup_printf ("%s/%u", addr, bits);
    }
  return TRUE;
}

gboolean
ferry_bucket_name_validate (const char *name, GError **error)
{
  static const char *const bad_prefixes[] = { "xn--", "sthree-", "amzn-s3-demo-" };
  static const char *const bad_suffixes[] = { "-s3alias", "--ol-s3", ".mrap", "--x-s3",
                                              "--table-s3" };
  size_t len = strlen (name);
  g_autoptr(GInetAddress) addr = NULL;
  const char *why = NULL;

  if (len < 3 || len > 63)
    why = "it must be 3 to 63 characters long";
  else if (strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != len)
    why = "only lowercase letters, digits, dots and hyphens are allowed";
  else if (!g_ascii_isalnum (name[0]) || !g_ascii_isalnum (name[len - 1]))
    why = "it must begin and end with a letter or digit";
  else if (strstr (name, "..") != NULL)
    why = "it must not contain two dots in a row";
  else if ((addr = g_inet_address_new_from_string (name)) != NULL)
    why = "it must not look like an IP address";
  for (guint i = 0; why == NULL && i < G_N_ELEMENTS (bad_prefixes); i++)
    if (g_str_has_prefix (name, bad_prefixes[i]))
      why = "it starts with a prefix S3 reserves";
  for (guint i = 0; why == NULL && i < G_N_ELEMENTS (bad_suffixes); i++)
    if (g_str_has_suffix (name, bad_suffixes[i]))
      why = "it ends with a suffix S3 reserves";
  if (why != NULL)
    return ferry_throw (error, FERRY_ERROR_USAGE, "invalid bucket name \"%s\": %s", name, why);
  return TRUE;
}

char *
ferry_detect_public_cidr (guint timeout_ms, GCancellable *cancellable, GError **error)
{
  const char *url = g_getenv ("FERRY_CHECKIP_URL");
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *request = NULL;
  g_autofree char *address = NULL;
  g_autoptr(GInetAddress) parsed = NULL;
  char buf[4096];
  gsize got = 0;
  const char *body;
  int port;

  if (url == NULL)
    url = "http://checkip.amazonaws.com/";
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "http") != 0)
    return (ferry_throw (error, FERRY_ERROR_CONFIG, "FERRY_CHECKIP_URL must be an http:// URL"),
            NULL);
  port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 80;
  g_socket_client_set_timeout (client, (timeout_ms + 999) / 1000);
  conn = g_socket_client_connect_to_host (client, g_uri_get_host (uri), port, cancellable,
                                          &local_error);
  if (conn != NULL)
    {
      GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
      GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
      request = g_strdup_printf ("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: ferry\r\n\r\n",
                                 *g_uri_get_path (uri) ? g_uri_get_path (uri) : "/",
                                 g_uri_get_host (uri));
      if (g_output_stream_write_all (out, request, strlen (request), NULL, cancellable,
                                     &local_error)
          && g_input_stream_read_all (in, buf, sizeof buf - 1, &got, cancellable, &local_error))
        {
          buf[got] = '\0';
          body = strstr (buf, "\r\n\r\n");
          if (g_str_has_prefix (buf, "HTTP/1.") && strstr (buf, " 200 ") != NULL && body != NULL)
            address = g_strstrip (g_strdup (body + 4));
        }
    }
  if (address != NULL)
    parsed = g_inet_address_new_from_string (address);
  if (parsed == NULL || g_inet_address_get_family (parsed) != G_SOCKET_FAMILY_IPV4)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "could not find your public address (%s: %s); pass --cidr "
                         "YOUR.PUBLIC.IP/32",
                         g_uri_get_host (uri),
                         local_error ? local_error->message : "no address in the answer"),
            NULL);
  return g_strconcat (address, "/32", NULL);
}

/* --- key pair ----------------------------------------------------------------------------------- */

/* ssh-keygen into a fresh path under the 0700 state dir (ssh-keygen writes the private half 0600 and
 * nothing else can read into that dir), then 0400 before anything else. */
static gboolean
generate_key (FerryResources *res, const char *pem, GCancellable *cancellable, GError **error)
{
  g_autofree char *comment = g_strconcat ("ferry:", res_name (res), NULL);
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
      g_unlink (pem);
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
  g_autofree char *tags = tag_specifications (res, "key-pair", FALSE);

  g_strv_builder_add_many (b, "--key-name", res_name (res), "--public-key-material", material,
                           "--tag-specifications", tags, NULL);
  return aws_call (res, "ec2", "import-key-pair", b, cancellable, error);
}

static json_t *
describe_key_pair (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  json_t *pair;

  g_strv_builder_add_many (b, "--key-names", res_name (res), NULL);
  out = aws_call (res, "ec2", "describe-key-pairs", b, cancellable, error);
  if (out == NULL)
    return NULL;
  pair = json_array_get (json_object_get (out, "KeyPairs"), 0);
  if (pair == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no key pair %s", res_name (res)), NULL);
  return json_incref (pair);
}

static gboolean
delete_key_pair (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--key-name", res_name (res), NULL);
  out = aws_call (res, "ec2", "delete-key-pair", b, cancellable, error);
  return out != NULL;
}

static gboolean
record_key_pair (FerryResources *res, json_t *pair, GError **error)
{
  json_t *resource = resource_new (
      id_or_placeholder (res, json_object_get (pair, "KeyPairId"), "<key-pair-id>"), TRUE);

  json_object_set_new (resource, "name", json_string (res_name (res)));
  json_object_set (resource, "fingerprint", json_object_get (pair, "KeyFingerprint"));
  if (json_object_get (resource, "fingerprint") == NULL)
    json_object_set_new (resource, "fingerprint", json_string (""));
  return record (res, FERRY_KIND_KEY_PAIR, resource, error);
}

gboolean
ferry_ensure_key_pair (FerryResources *res, GCancellable *cancellable, GError **error)
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
      res_log (res, "key pair %s: its pem %s is gone; replacing the key pair", res_name (res), pem);
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
      if (!tags_are_ours (res, json_object_get (existing, "Tags")))
        {
          ferry_throw (error, FERRY_ERROR_FAILED,
                       "an EC2 key pair named \"%s\" exists and ferry did not create it (no %s=%s "
                       "tag): delete it (aws ec2 delete-key-pair --key-name %s) or use another "
                       "--name",
                       res_name (res), FERRY_TAG_KEY, res_name (res), res_name (res));
          goto fail;
        }
      if (have_pem)
        {
          /* Imported by an earlier run cut short before it recorded it: same pem, same key. */
          g_unlink (pub);
          return record_key_pair (res, existing, error);
        }
      res_log (res, "key pair %s: ferry made it but its pem is gone; replacing it",
               res_name (res));
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
  res_log (res, "created key pair %s (private key %s, mode 0400)", res_name (res), pem);
  return TRUE;

fail:
  g_unlink (pub);
  if (generated)
    g_unlink (pem);
  return FALSE;
}

/* --- network ------------------------------------------------------------------------------------ */

static json_t *
default_subnets (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--filters", "Name=default-for-az,Values=true", NULL);
  out = aws_call (res, "ec2", "describe-subnets", b, cancellable, error);
  if (out == NULL)
    return NULL;
  if (!json_is_array (json_object_get (out, "Subnets")))
    return (missing_member (error, "describe-subnets", "Subnets"), NULL);
  return json_incref (json_object_get (out, "Subnets"));
}

/* The default subnet to use: the first by availability zone, for a stable choice. */
static json_t *
pick_subnet (json_t *subnets)
{
  json_t *best = NULL, *subnet;
  size_t i;

  json_array_foreach (subnets, i, subnet)
    {
      const char *az = json_string_value (json_object_get (subnet, "AvailabilityZone"));
      if (!json_is_string (json_object_get (subnet, "SubnetId"))
          || !json_is_string (json_object_get (subnet, "VpcId")))
        continue;
      if (best == NULL
          || g_strcmp0 (az, json_string_value (json_object_get (best, "AvailabilityZone"))) < 0)
        best = subnet;
    }
  return best;
}

static gboolean
create_default_vpc (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) tb = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(json_t) tagged = NULL;
  g_autofree char *tag = g_strdup_printf ("Key=%s,Value=%s", FERRY_TAG_KEY, res_name (res));
  const char *vpc;

  out = aws_call (res, "ec2", "create-default-vpc", b, cancellable, error);
  if (out == NULL)
    return FALSE;
  vpc = id_or_placeholder (res, json_object_get (json_object_get (out, "Vpc"), "VpcId"),
                           "<vpc-id>");
  if (vpc == NULL)
    return missing_member (error, "create-default-vpc", "Vpc.VpcId");
  if (!record (res, FERRY_KIND_VPC, resource_new (vpc, TRUE), error))
    return FALSE;
  g_strv_builder_add_many (tb, "--resources", vpc, "--tags", tag, NULL);
  tagged = aws_call (res, "ec2", "create-tags", tb, cancellable, error);
  if (tagged == NULL)
    return FALSE;
  res_log (res, "created a default VPC %s (the account had none; teardown removes it)", vpc);
  return TRUE;
}

gboolean
ferry_ensure_network (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) subnets = NULL;
  json_t *subnet, *resource;
  const char *vpc;

  if (ferry_state_has_resource (res->state, FERRY_KIND_VPC)
      && ferry_state_has_resource (res->state, FERRY_KIND_SUBNET))
    return TRUE;

  subnets = default_subnets (res, cancellable, error);
  if (subnets == NULL)
    return FALSE;
  if (json_array_size (subnets) == 0)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_autoptr(json_t) vpcs = NULL;

      g_strv_builder_add_many (b, "--filters", "Name=is-default,Values=true", NULL);
      vpcs = aws_call (res, "ec2", "describe-vpcs", b, cancellable, error);
      if (vpcs == NULL)
        return FALSE;
      if (json_array_size (json_object_get (vpcs, "Vpcs")) > 0)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "the default VPC %s has no default subnet: make one with aws ec2 "
                            "create-default-subnet --availability-zone ZONE",
                            json_string_value (json_object_get (
                                json_array_get (json_object_get (vpcs, "Vpcs"), 0), "VpcId")));
      if (!create_default_vpc (res, cancellable, error))
        return FALSE;
      if (res->dry_run)
        return TRUE;
      json_decref (subnets);
      subnets = default_subnets (res, cancellable, error);
      if (subnets == NULL)
        return FALSE;
    }
  subnet = pick_subnet (subnets);
  if (subnet == NULL)
    return ferry_throw (error, FERRY_ERROR_FAILED,
                        "the default VPC has no usable subnet: make one with aws ec2 "
                        "create-default-subnet --availability-zone ZONE");
  vpc = json_string_value (json_object_get (subnet, "VpcId"));
  if (!ferry_state_has_resource (res->state, FERRY_KIND_VPC)
      && !record (res, FERRY_KIND_VPC, resource_new (vpc, FALSE), error))
    return FALSE;
  resource = resource_new (json_string_value (json_object_get (subnet, "SubnetId")), FALSE);
  json_object_set (resource, "az", json_object_get (subnet, "AvailabilityZone"));
  if (!record (res, FERRY_KIND_SUBNET, resource, error))
    return FALSE;
  res_log (res, "using the default VPC %s, subnet %s", vpc,
           json_string_value (json_object_get (subnet, "SubnetId")));
  return TRUE;
}

/* --- firewall ----------------------------------------------------------------------------------- */

static char *
ssh_permission (FerryResources *res, const char *cidr)
{
  g_autofree char *desc = g_strconcat ("ferry ", res_name (res), ": ssh", NULL);
  g_autoptr(json_t) perm = NULL;

  if (ferry_cidr_is_ipv6 (cidr))
    perm = json_pack ("[{s:s, s:i, s:i, s:[{s:s, s:s}]}]", "IpProtocol", "tcp", "FromPort", 22,
                      "ToPort", 22, "Ipv6Ranges", "CidrIpv6", cidr, "Description", desc);
  else
    perm = json_pack ("[{s:s, s:i, s:i, s:[{s:s, s:s}]}]", "IpProtocol", "tcp", "FromPort", 22,
                      "ToPort", 22, "IpRanges", "CidrIp", cidr, "Description", desc);
  return json_dumps (perm, JSON_COMPACT);
}

static gboolean
change_ingress (FerryResources *res, const char *operation, const char *group,
                const char *permissions, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--group-id", group, "--ip-permissions", permissions, NULL);
  out = aws_call (res, "ec2", operation, b, cancellable, error);
  return out != NULL;
}

/* Makes `perms` (the group's IpPermissions as AWS lists them) exactly the one rule. */
static gboolean
converge_rules (FerryResources *res, const char *group, json_t *perms, const char *cidr,
                GCancellable *cancellable, GError **error)
{
  gboolean have = FALSE;
  json_t *perm;
  size_t i;

  json_array_foreach (perms, i, perm)
    {
      json_t *v4 = json_object_get (perm, "IpRanges");
      json_t *v6 = json_object_get (perm, "Ipv6Ranges");
      gboolean is_ours
          = g_strcmp0 (json_string_value (json_object_get (perm, "IpProtocol")), "tcp") == 0
            && json_integer_value (json_object_get (perm, "FromPort")) == 22
            && json_integer_value (json_object_get (perm, "ToPort")) == 22
            && json_array_size (v4) + json_array_size (v6) == 1
            && json_array_size (json_object_get (perm, "UserIdGroupPairs")) == 0
            && json_array_size (json_object_get (perm, "PrefixListIds")) == 0
            && g_strcmp0 (cidr, json_string_value (json_object_get (
                                    json_array_get (json_array_size (v4) ? v4 : v6, 0),
                                    json_array_size (v4) ? "CidrIp" : "CidrIpv6")))
                   == 0;
      if (is_ours && !have)
        have = TRUE;
      else
        {
          g_autoptr(json_t) one = json_pack ("[O]", perm);
          g_autofree char *text = json_dumps (one, JSON_COMPACT);
          if (!change_ingress (res, "revoke-security-group-ingress", group, text, cancellable,
                               error))
            return FALSE;
        }
    }
  if (!have)
    {
      g_autofree char *text = ssh_permission (res, cidr);
      if (!change_ingress (res, "authorize-security-group-ingress", group, text, cancellable,
                           error))
        return FALSE;
    }
  return update (res, FERRY_KIND_SECURITY_GROUP, "cidr", json_string (cidr), error);
}

static json_t *
describe_group (FerryResources *res, const char *id, const char *vpc, const char *group_name,
                GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autofree char *f_name = NULL, *f_vpc = NULL;
  json_t *group;

  if (id != NULL)
    g_strv_builder_add_many (b, "--group-ids", id, NULL);
  else
    {
      f_name = g_strconcat ("Name=group-name,Values=", group_name, NULL);
      g_strv_builder_add_many (b, "--filters", f_name, NULL);
      if (vpc != NULL)
        {
          f_vpc = g_strconcat ("Name=vpc-id,Values=", vpc, NULL);
          g_strv_builder_add (b, f_vpc);
        }
    }
  out = aws_call (res, "ec2", "describe-security-groups", b, cancellable, error);
  if (out == NULL)
    return NULL;
  group = json_array_get (json_object_get (out, "SecurityGroups"), 0);
  if (group == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no security group %s",
                         id ? id : group_name),
            NULL);
  return json_incref (group);
}

gboolean
ferry_ensure_firewall (FerryResources *res, const char *cidr, gboolean default_vpc,
                       GCancellable *cancellable, GError **error)
{
  g_autofree char *vpc = ferry_state_dup_resource_string (res->state, FERRY_KIND_VPC, "id");
  g_autofree char *known = ferry_state_dup_resource_string (res->state,
                                                            FERRY_KIND_SECURITY_GROUP, "id");
  g_autofree char *known_cidr = ferry_state_dup_resource_string (
      res->state, FERRY_KIND_SECURITY_GROUP, "cidr");
  g_autofree char *group_name = g_strconcat (res_name (res), "-ssh", NULL);
  g_autofree char *desc = g_strconcat ("ferry ", res_name (res), ": ssh from one address", NULL);
  g_autofree char *tags = tag_specifications (res, "security-group", FALSE);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(json_t) group = NULL;
  g_autoptr(GError) local_error = NULL;
  json_t *resource;
  const char *id;

  if (vpc == NULL && !default_vpc && res->dry_run)
    vpc = g_strdup ("<vpc-id>");
  if (vpc == NULL && !default_vpc)
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        "no VPC in %s yet; run ferry network first",
                        ferry_state_get_dir (res->state));

  if (known != NULL)
    {
      if (g_strcmp0 (known_cidr, cidr) == 0)
        return TRUE;
      group = describe_group (res, known, NULL, NULL, cancellable, error);
      if (group == NULL)
        return FALSE;
      if (!converge_rules (res, known, json_object_get (group, "IpPermissions"), cidr,
                           cancellable, error))
        return FALSE;
      res_log (res, "security group %s now allows SSH from %s only", known, cidr);
      return TRUE;
    }

  g_strv_builder_add_many (b, "--group-name", group_name, "--description", desc,
                           "--tag-specifications", tags, NULL);
  if (vpc != NULL)
    g_strv_builder_add_many (b, "--vpc-id", vpc, NULL);
  out = aws_call (res, "ec2", "create-security-group", b, cancellable, &local_error);
  if (out == NULL && vpc == NULL
      && (ferry_aws_error_has_code (local_error, "VPCIdNotSpecified")
          || ferry_aws_error_has_code (local_error, "InvalidVpcID.NotFound")))
    {
      /* No default VPC: make one, then the group goes there. */
      return ferry_ensure_network (res, cancellable, error)
             && ferry_ensure_firewall (res, cidr, FALSE, cancellable, error);
    }
  if (out == NULL && ferry_aws_error_has_code (local_error, "InvalidGroup.Duplicate"))
    {
      group = describe_group (res, NULL, vpc, group_name, cancellable, error);
      if (group == NULL)
        return FALSE;
      if (!tags_are_ours (res, json_object_get (group, "Tags")))
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "a security group named %s exists in %s and ferry did not create it "
                            "(no %s=%s tag): delete it or use another --name",
                            group_name, vpc ? vpc : "the default VPC", FERRY_TAG_KEY,
                            res_name (res));
      id = json_string_value (json_object_get (group, "GroupId"));
      resource = resource_new (id, TRUE);
      json_object_set_new (resource, "name", json_string (group_name));
      json_object_set_new (resource, "cidr", json_null ());
      if (!record (res, FERRY_KIND_SECURITY_GROUP, resource, error))
        return FALSE;
      return converge_rules (res, id, json_object_get (group, "IpPermissions"), cidr, cancellable,
                             error);
    }
  if (out == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  id = id_or_placeholder (res, json_object_get (out, "GroupId"), "<security-group-id>");
  if (id == NULL)
    return missing_member (error, "create-security-group", "GroupId");
  resource = resource_new (id, TRUE);
  json_object_set_new (resource, "name", json_string (group_name));
  json_object_set_new (resource, "cidr", json_null ());
  if (!record (res, FERRY_KIND_SECURITY_GROUP, resource, error))
    return FALSE;
  {
    g_autoptr(json_t) none = json_array ();
    if (!converge_rules (res, id, none, cidr, cancellable, error))
      return FALSE;
  }
  res_log (res, "created security group %s (%s): SSH from %s only", id, group_name, cidr);
  return TRUE;
}

/* --- bucket ------------------------------------------------------------------------------------- */

static gboolean
bucket_is_ours (FerryResources *res, const char *bucket, GCancellable *cancellable,
                gboolean *out_ours, GError **error)
{
  g_autofree char *owner = NULL;

  if (!ferry_kind_bucket_owner (res->aws, bucket, &owner, cancellable, error))
    return FALSE;
  *out_ours = g_strcmp0 (owner, res_name (res)) == 0;
  return TRUE;
}

static gboolean
bucket_tag (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *tagging = g_strdup_printf ("TagSet=[{Key=%s,Value=%s}]", FERRY_TAG_KEY,
                                              res_name (res));
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--bucket", (const char *) data, "--tagging", tagging, NULL);
  out = aws_call (res, "s3api", "put-bucket-tagging", b, cancellable, error);
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
  out = aws_call (res, "s3api", "put-public-access-block", b, cancellable, error);
  return out != NULL;
}

gboolean
ferry_ensure_bucket (FerryResources *res, const char *bucket, GCancellable *cancellable,
                     GError **error)
{
  g_autofree char *known = ferry_state_dup_resource_string (res->state, FERRY_KIND_BUCKET, "id");
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *location = NULL;
  const char *region = res->aws->region;

  g_autoptr(json_t) entry = ferry_state_dup_resource (res->state, FERRY_KIND_BUCKET);
  gboolean creating = json_is_true (json_object_get (entry, "creating"));

  if (!ferry_bucket_name_validate (bucket, error))
    return FALSE;
  if (known != NULL && !(creating && g_strcmp0 (known, bucket) == 0))
    {
      if (g_strcmp0 (known, bucket) == 0)
        return TRUE;
      return ferry_throw (error, FERRY_ERROR_USAGE,
                          "deployment %s already has bucket %s; run ferry teardown first, or use "
                          "another --name for bucket %s",
                          res_name (res), known, bucket);
    }

  /* Recorded before it exists, marked creating until tagged: a ferry killed right after
   * create-bucket still knows the (untagged) bucket is its own, and teardown finds it. */
  if (!creating)
    {
      json_t *r = resource_new (bucket, TRUE);
      json_object_set_new (r, "creating", json_true ());
      if (!record (res, FERRY_KIND_BUCKET, r, error))
        return FALSE;
    }
  g_strv_builder_add_many (b, "--bucket", bucket, NULL);
  if (region != NULL && strcmp (region, "us-east-1") != 0)
    {
      location = g_strconcat ("LocationConstraint=", region, NULL);
      g_strv_builder_add_many (b, "--create-bucket-configuration", location, NULL);
    }
  out = aws_call (res, "s3api", "create-bucket", b, cancellable, &local_error);
  if (out == NULL && ferry_aws_error_has_code (local_error, "BucketAlreadyOwnedByYou"))
    {
      /* Made by an earlier, interrupted ferry (recorded as creating), or the user's own. */
      gboolean ours = creating;
      if (!ours && !bucket_is_ours (res, bucket, cancellable, &ours, error))
        return FALSE;
      if (!record (res, FERRY_KIND_BUCKET, resource_new (bucket, ours), error))
        return FALSE;
      if (!ours)
        {
          res_log (res, "using your existing bucket %s as it is (ferry will never delete it)",
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

  if (!run_both (res, bucket_tag, bucket_block_public, (gpointer) bucket, cancellable, error)
      || !record (res, FERRY_KIND_BUCKET, resource_new (bucket, TRUE), error))
    return FALSE;
  res_log (res, "created bucket %s (private, public access blocked)", bucket);
  return TRUE;
}

/* --- role and instance profile ------------------------------------------------------------------ */

/* Replaces every string "@KEY@" in `node` (recursively) with its value from `vars`. */
static void
substitute (json_t *node, GHashTable *vars)
{
  size_t i;
  const char *key;
  json_t *child;
  void *tmp;

  if (json_is_object (node))
    json_object_foreach_safe (node, tmp, key, child)
      {
        const char *value = json_is_string (child)
                                ? g_hash_table_lookup (vars, json_string_value (child))
                                : NULL;
        if (value != NULL)
          json_object_set_new (node, key, json_string (value));
        else
          substitute (child, vars);
      }
  else if (json_is_array (node))
    json_array_foreach (node, i, child)
      {
        const char *value = json_is_string (child)
                                ? g_hash_table_lookup (vars, json_string_value (child))
                                : NULL;
        if (value != NULL)
          json_array_set_new (node, i, json_string (value));
        else
          substitute (child, vars);
      }
}

static json_t *
load_json_template (const char *name, GError **error)
{
  g_autofree char *text = NULL;
  json_error_t jerr;
  json_t *root;

  if (!ferry_template_load (name, &text, error))
    return NULL;
  root = json_loads (text, 0, &jerr);
  if (root == NULL)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "template %s: line %d: %s", name,
                         jerr.line, jerr.text),
            NULL);
  return root;
}

json_t *
ferry_role_policy_render (const char *bucket, GError **error)
{
  g_autoptr(GHashTable) vars = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autofree char *bucket_arn = g_strconcat ("arn:aws:s3:::", bucket, NULL);
  g_autofree char *objects_arn = g_strconcat (bucket_arn, "/*", NULL);
  g_autoptr(json_t) policy = NULL;
  json_t *statement;
  size_t i;

  policy = load_json_template ("iam-policy.json", error);
  if (policy == NULL)
    return NULL;
  g_hash_table_insert (vars, "@BUCKET_ARN@", g_strdup (bucket_arn));
  g_hash_table_insert (vars, "@OBJECTS_ARN@", g_strdup (objects_arn));
  substitute (policy, vars);

  /* Whatever the template says, the policy may name this bucket and its objects, nothing else. */
  json_array_foreach (json_object_get (policy, "Statement"), i, statement)
    {
      json_t *resource = json_object_get (statement, "Resource");
      json_t *one;
      size_t j;
      if (json_is_string (resource))
        resource = json_pack ("[O]", resource);
      else
        json_incref (resource);
      if (!json_is_array (resource) || json_array_size (resource) == 0)
        {
          json_decref (resource);
          return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                               "template iam-policy.json: statement %zu has no Resource", i),
                  NULL);
        }
      json_array_foreach (resource, j, one)
        if (g_strcmp0 (json_string_value (one), bucket_arn) != 0
            && g_strcmp0 (json_string_value (one), objects_arn) != 0)
          {
            json_decref (resource);
            return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                                 "template iam-policy.json names a resource other than the "
                                 "bucket; fix the template"),
                    NULL);
          }
      json_decref (resource);
    }
  if (json_array_size (json_object_get (policy, "Statement")) == 0)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                         "template iam-policy.json has no Statement"),
            NULL);
  return g_steal_pointer (&policy);
}

/* get-role / get-instance-profile: the object, to check its tags before adopting it. */
/* Creates an IAM role or profile, or adopts the one of that name when it carries our tag. The
 * created object (Role / InstanceProfile) comes back. */
static json_t *
iam_create (FerryResources *res, const char *kind, const char *operation, GStrvBuilder *b,
            const char *name, GCancellable *cancellable, GError **error)
{
  const char *member = g_str_equal (kind, FERRY_KIND_ROLE) ? "Role" : "InstanceProfile";
  g_autoptr(json_t) out = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) existing = NULL;
  json_t *resource;
  const char *id_member = strcmp (member, "Role") == 0 ? "RoleName" : "InstanceProfileName";
  const char *arn;

  out = aws_call (res, "iam", operation, b, cancellable, &local_error);
  if (out == NULL && ferry_aws_error_has_code (local_error, "EntityAlreadyExists"))
    {
      existing = ferry_kind_iam_get (res->aws, kind, name, cancellable, error);
      if (existing == NULL)
        return NULL;
      if (!tags_are_ours (res, json_object_get (existing, "Tags")))
        return (ferry_throw (error, FERRY_ERROR_FAILED,
                             "IAM %s %s exists and ferry did not create it (no %s=%s tag): delete "
                             "it or use another --name",
                             ferry_kind_label (kind), name, FERRY_TAG_KEY, res_name (res)),
                NULL);
    }
  else if (out == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  else if (json_is_object (json_object_get (out, member)))
    existing = json_incref (json_object_get (out, member));
  else
    existing = json_object (); /* dry-run: nothing was made */

  if (!res->dry_run && !json_is_string (json_object_get (existing, id_member)))
    return (missing_member (error, operation, id_member), NULL);
  arn = json_string_value (json_object_get (existing, "Arn"));
  resource = resource_new (name, TRUE);
  json_object_set_new (resource, "arn", arn ? json_string (arn) : json_null ());
  if (!record (res, kind, resource, error))
    return NULL;
  return g_steal_pointer (&existing);
}

typedef struct
{
  char *role_name;
  char *policy_name;
  char *profile_name;
  char *tag;
  char *desc;
  char *trust_text;
  char *policy_text;
  json_t *profile; /* the profile as created or found (its Roles) */
} RoleJob;

static gboolean
role_create (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) role = NULL;

  if (ferry_state_has_resource (res->state, FERRY_KIND_ROLE))
    return TRUE;
  g_strv_builder_add_many (b, "--role-name", job->role_name, "--description", job->desc,
                           "--assume-role-policy-document", job->trust_text, "--tags", job->tag,
                           NULL);
  role = iam_create (res, FERRY_KIND_ROLE, "create-role", b, job->role_name, cancellable, error);
  return role != NULL;
}

static gboolean
profile_create (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  if (ferry_state_has_resource (res->state, FERRY_KIND_INSTANCE_PROFILE))
    {
      job->profile = ferry_kind_iam_get (res->aws, FERRY_KIND_INSTANCE_PROFILE, job->profile_name,
                                         cancellable, error);
      return job->profile != NULL;
    }
  g_strv_builder_add_many (b, "--instance-profile-name", job->profile_name, "--tags", job->tag,
                           NULL);
  job->profile = iam_create (res, FERRY_KIND_INSTANCE_PROFILE, "create-instance-profile", b,
                             job->profile_name, cancellable, error);
  /* run-instances refuses a new profile for a while: its age says whether a refusal may be that. */
  return job->profile != NULL
         && (res->dry_run
             || update (res, FERRY_KIND_INSTANCE_PROFILE, "created_at",
                        json_integer (g_get_real_time () / G_USEC_PER_SEC), error));
}

static gboolean
role_put_policy (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--role-name", job->role_name, "--policy-name", job->policy_name,
                           "--policy-document", job->policy_text, NULL);
  out = aws_call (res, "iam", "put-role-policy", b, cancellable, error);
  return out != NULL
         && update (res, FERRY_KIND_ROLE, "policy", json_string (job->policy_name), error);
}

static gboolean
profile_add_role (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  json_t *member;
  size_t i;

  json_array_foreach (json_object_get (job->profile, "Roles"), i, member)
    if (g_strcmp0 (json_string_value (json_object_get (member, "RoleName")), job->role_name) == 0)
      return TRUE;
  g_strv_builder_add_many (b, "--instance-profile-name", job->profile_name, "--role-name",
                           job->role_name, NULL);
  out = aws_call (res, "iam", "add-role-to-instance-profile", b, cancellable, error);
  return out != NULL;
}

gboolean
ferry_ensure_role (FerryResources *res, const char *bucket, GCancellable *cancellable,
                   GError **error)
{
  g_autofree char *known_policy = ferry_state_dup_resource_string (res->state, FERRY_KIND_ROLE,
                                                                   "policy");
  g_autoptr(json_t) trust = NULL, policy = NULL;
  RoleJob job = { 0 };
  gboolean ok;

  if (!ferry_bucket_name_validate (bucket, error))
    return FALSE;
  if (known_policy != NULL
      && ferry_state_has_resource (res->state, FERRY_KIND_INSTANCE_PROFILE))
    return TRUE;

  trust = load_json_template ("iam-trust.json", error);
  if (trust == NULL)
    return FALSE;
  policy = ferry_role_policy_render (bucket, error);
  if (policy == NULL)
    return FALSE;
  job.role_name = g_strconcat (res_name (res), "-ec2", NULL);
  job.policy_name = g_strconcat (res_name (res), "-s3", NULL);
  job.profile_name = g_strconcat (res_name (res), "-profile", NULL);
  job.tag = g_strdup_printf ("Key=%s,Value=%s", FERRY_TAG_KEY, res_name (res));
  job.desc = g_strconcat ("ferry ", res_name (res), ": the instance's access to s3://", bucket,
                          NULL);
  job.trust_text = json_dumps (trust, JSON_COMPACT);
  job.policy_text = json_dumps (policy, JSON_COMPACT);

  /* The role and the profile do not need each other; the policy and the membership need both. */
  ok = run_both (res, role_create, profile_create, &job, cancellable, error)
       && run_both (res, role_put_policy, profile_add_role, &job, cancellable, error);
  if (ok)
    res_log (res, "created role %s (policy %s: s3://%s only) in instance profile %s",
             job.role_name, job.policy_name, bucket, job.profile_name);
  g_free (job.role_name);
  g_free (job.policy_name);
  g_free (job.profile_name);
  g_free (job.tag);
  g_free (job.desc);
  g_free (job.trust_text);
  g_free (job.policy_text);
  json_decref (job.profile);
  return ok;
}

/* --- AMI ---------------------------------------------------------------------------------------- */

gboolean
ferry_lookup_ami (FerryResources *res, const char *ami, char **out_ami, char **out_root_device,
                  GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) out = NULL;
  json_t *image, *newest = NULL;
  size_t i;

  if (ami == NULL)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_autoptr(GError) local_error = NULL;
      g_strv_builder_add_many (b, "--names", FERRY_AMI_PARAMETER, NULL);
      out = aws_call (res, "ssm", "get-parameters", b, cancellable, &local_error);
      /* A missing parameter or no SSM access falls back to describe-images; throttling and an
       * answer that is not JSON are errors. */
      if (out == NULL && (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_THROTTLED)
                          || g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA)))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      ami = json_string_value (
          json_object_get (json_array_get (json_object_get (out, "Parameters"), 0), "Value"));
      if (ami != NULL && g_str_has_prefix (ami, "ami-"))
        {
          *out_ami = g_strdup (ami);
          *out_root_device = g_strdup ("/dev/xvda");
          return TRUE;
        }
      /* No SSM parameter here (a region or endpoint without it): the newest AL2023 image. */
      g_clear_pointer (&out, json_decref);
      {
        g_autoptr(GStrvBuilder) ib = g_strv_builder_new ();
        g_strv_builder_add_many (ib, "--owners", "amazon", "--filters",
                                 "Name=name,Values=al2023-ami-2023.*-x86_64",
                                 "Name=state,Values=available", "Name=architecture,Values=x86_64",
                                 NULL);
        out = aws_call (res, "ec2", "describe-images", ib, cancellable, error);
      }
    }
  else
    {
      g_autoptr(GStrvBuilder) ib = g_strv_builder_new ();
      g_autoptr(GError) local_error = NULL;
      g_strv_builder_add_many (ib, "--image-ids", ami, NULL);
      out = aws_call (res, "ec2", "describe-images", ib, cancellable, &local_error);
      if (out == NULL && (ferry_aws_error_has_code (local_error, "InvalidAMIID.NotFound")
                          || ferry_aws_error_has_code (local_error, "InvalidAMIID.Malformed")))
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "AMI %s does not exist in this region; drop --ami to use Amazon "
                            "Linux 2023",
                            ami);
      if (out == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  if (out == NULL)
    return FALSE;
  json_array_foreach (json_object_get (out, "Images"), i, image)
    if (newest == NULL
        || g_strcmp0 (json_string_value (json_object_get (image, "CreationDate")),
                      json_string_value (json_object_get (newest, "CreationDate")))
               > 0)
      newest = image;
  if (newest == NULL || !json_is_string (json_object_get (newest, "ImageId")))
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        ami ? "AMI %s does not exist in this region; drop --ami to use Amazon "
                              "Linux 2023"
                            : "no Amazon Linux 2023 image found in this region%s; pass --ami ID",
                        ami ? ami : "");
  *out_ami = g_strdup (json_string_value (json_object_get (newest, "ImageId")));
  *out_root_device = g_strdup (json_is_string (json_object_get (newest, "RootDeviceName"))
                                   ? json_string_value (json_object_get (newest, "RootDeviceName"))
                                   : "/dev/xvda");
  return TRUE;
}

/* --- instance ----------------------------------------------------------------------------------- */

char *
ferry_local_snakemake_major (GCancellable *cancellable)
{
  int major = 0;

  if (!ferry_snakemake_version (&major, NULL, NULL, cancellable, NULL))
    return NULL;
  return g_strdup_printf ("%d", major);
}

char *
ferry_user_data_render (const char *name, gint64 max_hours, const char *ssh_user,
                        const char *snakemake_major, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GString) s = NULL;
  g_autofree char *hours = g_strdup_printf ("%" G_GINT64_FORMAT, max_hours);
  g_autofree char *spec = NULL;
  g_autofree char *quoted_user = NULL;
  g_autofree char *quoted_spec = NULL;

  /* The user data runs as root: the user name is checked here too, not only at the command line. */
  if (!ferry_config_valid_user_name (ssh_user))
    return (ferry_throw (error, FERRY_ERROR_USAGE, "invalid ssh user \"%s\" for the user data",
                         ssh_user ? ssh_user : ""),
            NULL);
  if (!ferry_template_load ("user-data.sh", &text, error))
    return NULL;
  if (snakemake_major != NULL)
    spec = g_strdup_printf ("snakemake-minimal>=%s,<%d", snakemake_major,
                            atoi (snakemake_major) + 1);
  else
    spec = g_strdup ("snakemake-minimal");
  quoted_spec = g_shell_quote (spec);
  quoted_user = g_shell_quote (ssh_user);
  s = g_string_new (text);
  g_string_replace (s, "@NAME@", name, 0);
  g_string_replace (s, "@MAX_HOURS@", hours, 0);
  g_string_replace (s, "@SSH_USER@", quoted_user, 0);
  g_string_replace (s, "@SNAKEMAKE_SPEC@", quoted_spec, 0);
  g_string_replace (s, "@CONDA_SPEC@", "conda=" FERRY_CONDA_VERSION, 0);
  g_string_replace (s, "@MAMBA_SPEC@", "mamba=" FERRY_MAMBA_VERSION, 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* An instance ferry launched earlier for this name that is still alive (found by tag). */
static json_t *
find_tagged_instance (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) reservations = ferry_kind_describe_tagged (
      res->aws, "describe-instances", "Reservations", res_name (res),
      "Name=instance-state-name,Values=pending,running,stopping,stopped", cancellable, error);
  json_t *reservation, *instance;
  size_t i, j;

  if (reservations == NULL)
    return NULL;
  json_array_foreach (reservations, i, reservation)
    json_array_foreach (json_object_get (reservation, "Instances"), j, instance)
      return json_incref (instance);
  return json_object ();
}

static gboolean
record_instance (FerryResources *res, json_t *instance, const FerryLaunchOptions *opts,
                 GError **error)
{
  json_t *resource = resource_new (json_string_value (json_object_get (instance, "InstanceId")),
                                   TRUE);

  json_object_set (resource, "type", json_object_get (instance, "InstanceType"));
  json_object_set (resource, "ami", json_object_get (instance, "ImageId"));
  json_object_set_new (resource, "volume_size", json_integer (opts->volume_gb));
  json_object_set_new (resource, "max_hours", json_integer (opts->max_hours));
  json_object_set_new (resource, "spot", json_boolean (opts->spot));
  json_object_set_new (resource, "public_dns", json_null ());
  json_object_set_new (resource, "public_ip", json_null ());
  json_object_set_new (resource, "state", json_string (ferry_instance_state_name (instance)));
  json_object_set_new (resource, "launched_at",
                       json_is_string (json_object_get (instance, "LaunchTime"))
                           ? json_incref (json_object_get (instance, "LaunchTime"))
                           : json_null ());
  return record (res, FERRY_KIND_INSTANCE, resource, error);
}

static GStrv
run_instances_args (FerryResources *res, const FerryLaunchOptions *opts, const char *token,
                    const char *user_data_path, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *key = ferry_state_dup_resource_string (res->state, FERRY_KIND_KEY_PAIR, "name");
  g_autofree char *group = ferry_state_dup_resource_string (res->state,
                                                            FERRY_KIND_SECURITY_GROUP, "id");
  g_autofree char *subnet = ferry_state_dup_resource_string (res->state, FERRY_KIND_SUBNET, "id");
  g_autofree char *profile = ferry_state_dup_resource_string (res->state,
                                                              FERRY_KIND_INSTANCE_PROFILE, "id");
  g_autofree char *tags_instance = NULL, *bdm = NULL, *ud = NULL;
  g_autofree char *profile_arg = NULL;
  g_autoptr(json_t) map = NULL;
  const char *missing = key == NULL ? "key pair (ferry keypair)"
                        : group == NULL ? "security group (ferry firewall)"
                                        : NULL;

  if (missing != NULL && !res->dry_run)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                         "no %s in %s yet; make it first, or run ferry bootstrap", missing,
                         ferry_state_get_dir (res->state)),
            NULL);
  {
    g_autofree char *a = tag_specifications (res, "instance", TRUE);
    g_autofree char *v = tag_specifications (res, "volume", FALSE);
    g_autoptr(json_t) ja = json_loads (a, 0, NULL);
    g_autoptr(json_t) jv = json_loads (v, 0, NULL);
    json_array_extend (ja, jv);
    tags_instance = json_dumps (ja, JSON_COMPACT);
  }
  map = json_pack ("[{s:s, s:{s:I, s:s, s:b, s:b}}]", "DeviceName", opts->root_device, "Ebs",
                   "VolumeSize", (json_int_t) opts->volume_gb, "VolumeType", "gp3",
                   "DeleteOnTermination", TRUE, "Encrypted", TRUE);
  bdm = json_dumps (map, JSON_COMPACT);
  ud = g_strconcat ("file://", user_data_path, NULL);

  g_strv_builder_add_many (b, "--image-id", opts->ami, "--instance-type", opts->instance_type,
                           "--count", "1", "--key-name", key ? key : "<key-pair>",
                           "--security-group-ids", group ? group : "<security-group-id>",
                           "--block-device-mappings", bdm, "--tag-specifications", tags_instance,
                           "--user-data", ud, "--instance-initiated-shutdown-behavior",
                           "terminate", "--metadata-options",
                           "HttpTokens=required,HttpEndpoint=enabled", "--client-token", token,
                           NULL);
  if (subnet != NULL)
    g_strv_builder_add_many (b, "--subnet-id", subnet, NULL);
  if (profile != NULL)
    {
      profile_arg = g_strconcat ("Name=", profile, NULL);
      g_strv_builder_add_many (b, "--iam-instance-profile", profile_arg, NULL);
    }
  if (opts->spot)
    g_strv_builder_add_many (b, "--instance-market-options",
                             "{\"MarketType\":\"spot\",\"SpotOptions\":{\"SpotInstanceType\":"
                             "\"one-time\",\"InstanceInterruptionBehavior\":\"terminate\"}}",
                             NULL);
  return g_strv_builder_end (b);
}

/* The default VPC and subnet EC2 chose, when the state had none (adopted, never deleted). */
static gboolean
record_network_of (FerryResources *res, json_t *instance, GError **error)
{
  const char *vpc = json_string_value (json_object_get (instance, "VpcId"));
  const char *subnet = json_string_value (json_object_get (instance, "SubnetId"));
  json_t *resource;

  if (vpc != NULL && !ferry_state_has_resource (res->state, FERRY_KIND_VPC)
      && !record (res, FERRY_KIND_VPC, resource_new (vpc, FALSE), error))
    return FALSE;
  if (subnet == NULL || ferry_state_has_resource (res->state, FERRY_KIND_SUBNET))
    return TRUE;
  resource = resource_new (subnet, FALSE);
  json_object_set (resource, "az",
                   json_object_get (json_object_get (instance, "Placement"), "AvailabilityZone"));
  return record (res, FERRY_KIND_SUBNET, resource, error);
}

/* EC2 rejects an instance profile for about ten seconds after IAM made it, as an invalid parameter.
 * That code alone is no proof (a bad type is one too), so only a profile made in the last two
 * minutes is waited for. */
static gboolean
profile_not_ready (FerryResources *res, const GError *error)
{
  g_autoptr(json_t) profile = ferry_state_dup_resource (res->state, FERRY_KIND_INSTANCE_PROFILE);
  json_int_t made = json_integer_value (json_object_get (profile, "created_at"));

  return (ferry_aws_error_has_code (error, "InvalidParameterValue")
          || ferry_aws_error_has_code (error, "InvalidParameterCombination"))
         && made > 0 && g_get_real_time () / G_USEC_PER_SEC - made < 120;
}

static json_t *
run_instances (FerryResources *res, const FerryLaunchOptions *opts, GCancellable *cancellable,
               GError **error)
{
  g_autofree char *token = ferry_state_dup_setting_string (res->state, "launch_token");
  g_autofree char *user_data = NULL;
  g_autofree char *ud_path = ferry_state_path (res->state, "user-data.sh");
  g_autofree char *major = NULL;
  g_autofree char *ami = NULL, *root = NULL;
  g_auto(GStrv) args = NULL;
  g_autoptr(json_t) out = NULL;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  FerryLaunchOptions o = *opts;
  json_t *instance;

  if (o.root_device == NULL)
    {
      if (!ferry_lookup_ami (res, o.ami, &ami, &root, cancellable, error))
        return NULL;
      o.ami = ami;
      o.root_device = root;
    }
  if (!o.snakemake_checked)
    {
      major = ferry_local_snakemake_major (cancellable);
      o.snakemake_major = major;
    }
  opts = &o;
  if (token == NULL)
    token = g_uuid_string_random ();
  user_data = ferry_user_data_render (res_name (res), opts->max_hours, opts->ssh_user,
                                      opts->snakemake_major, error);
  if (user_data == NULL)
    return NULL;
  if (!res->dry_run
      && (!g_file_set_contents_full (ud_path, user_data, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                     0600, error)
          || !ferry_state_set_setting (res->state, "launch_token", json_string (token), error)))
    return NULL;
  args = run_instances_args (res, opts, token, ud_path, error);
  if (args == NULL)
    return NULL;
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      out = ferry_aws_call (res->aws, "ec2", "run-instances", (const char *const *) args,
                            cancellable, &local_error);
      if (out != NULL)
        break;
      if (!profile_not_ready (res, local_error) || g_get_monotonic_time () > deadline)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      res_log (res, "the new instance profile is not usable yet; retrying in 5 s");
      if (!ferry_sleep (5000, cancellable, error))
        return NULL;
    }
  if (res->dry_run)
    return json_object ();
  instance = json_array_get (json_object_get (out, "Instances"), 0);
  if (!json_is_string (json_object_get (instance, "InstanceId")))
    return (missing_member (error, "run-instances", "Instances[0].InstanceId"), NULL);
  if (!record_instance (res, instance, opts, error)
      || !ferry_state_set_setting (res->state, "launch_token", json_null (), error)
      || !record_network_of (res, instance, error))
    return NULL;
  res_log (res, "launched instance %s (%s, %" G_GINT64_FORMAT " GB, terminates itself after %"
                G_GINT64_FORMAT " h)",
           json_string_value (json_object_get (instance, "InstanceId")), opts->instance_type,
           opts->volume_gb, opts->max_hours);
  return json_incref (instance);
}

gboolean
ferry_ensure_instance (FerryResources *res, const FerryLaunchOptions *opts, gboolean *out_created,
                       GCancellable *cancellable, GError **error)
{
  g_autofree char *id = ferry_state_dup_resource_string (res->state, FERRY_KIND_INSTANCE, "id");
  g_autofree char *pending = ferry_state_dup_setting_string (res->state, "launch_token");
  g_autoptr(json_t) instance = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *state_name;

  *out_created = FALSE;
  if (id == NULL && pending != NULL)
    {
      /* A launch was cut short: what it made carries our tag. */
      instance = find_tagged_instance (res, cancellable, error);
      if (instance == NULL)
        return FALSE;
      if (json_object_get (instance, "InstanceId") != NULL)
        {
          if (!record_instance (res, instance, opts, error)
              || !ferry_state_set_setting (res->state, "launch_token", json_null (), error))
            return FALSE;
          g_free (id);
          id = g_strdup (json_string_value (json_object_get (instance, "InstanceId")));
          res_log (res, "found instance %s from an interrupted launch", id);
        }
      g_clear_pointer (&instance, json_decref);
    }
  if (id != NULL)
    {
      instance = ferry_instance_describe (res->aws, id, cancellable, &local_error);
      if (instance == NULL && !g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      state_name = instance ? ferry_instance_state_name (instance) : "terminated";
      if (g_strcmp0 (state_name, "stopped") == 0 || g_strcmp0 (state_name, "stopping") == 0)
        {
          g_clear_pointer (&instance, json_decref);
          return ferry_instance_change (res->aws, res->state, FERRY_INSTANCE_START,
                                        !res->dry_run, opts->wait_timeout_s, &instance,
                                        cancellable, error);
        }
      if (g_strcmp0 (state_name, "shutting-down") != 0
          && g_strcmp0 (state_name, "terminated") != 0)
        {
          if (g_strcmp0 (state_name, "running") != 0)
            {
              g_clear_pointer (&instance, json_decref);
              instance = ferry_instance_wait_state (res->aws, id, "running", opts->wait_timeout_s,
                                                    cancellable, error);
              if (instance == NULL)
                return FALSE;
            }
          return res->dry_run || ferry_instance_record (res->state, instance, error);
        }
      res_log (res, "instance %s is %s; launching a new one", id, state_name);
      if (!res->dry_run && !ferry_state_forget (res->state, FERRY_KIND_INSTANCE, error))
        return FALSE;
      g_clear_pointer (&instance, json_decref);
    }

  instance = run_instances (res, opts, cancellable, error);
  if (instance == NULL)
    return FALSE;
  *out_created = TRUE;
  if (res->dry_run)
    return TRUE;
  g_free (id);
  id = g_strdup (json_string_value (json_object_get (instance, "InstanceId")));
  g_clear_pointer (&instance, json_decref);
  instance = ferry_instance_wait_state (res->aws, id, "running", opts->wait_timeout_s,
                                        cancellable, error);
  return instance != NULL && ferry_instance_record (res->state, instance, error);
}
