/* What making resources shares across the kinds (kind-*.c): the progress line, recording, tags,
 * the aws call; and the checks done before anything is made. */
#include "kind-private.h"

/* --- small helpers ------------------------------------------------------------------------------ */

void
ferry_res_log (FerryResources *res, const char *fmt, ...)
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

const char *
ferry_res_name (FerryResources *res)
{
  return ferry_state_get_name (res->state);
}

/* The object `{"id": id, "created": created}`, with more members to be added. */
json_t *
ferry_resource_new (const char *id, gboolean created)
{
  return json_pack ("{s:s, s:b}", "id", id, "created", created);
}

/* In dry-run the state is memory-only (see ferry_resources_init), so later steps see the ids. */
gboolean
ferry_res_record (FerryResources *res, const char *kind, json_t *resource, GError **error)
{
  if (!ferry_state_record (res->state, kind, resource, error))
    return FALSE;
  if (res->recorded != NULL)
    res->recorded (kind, res->recorded_data);
  return TRUE;
}

typedef struct
{
  FerryResources *res;
  FerryResStepFunc func;
  gpointer data;
} Step;

static gboolean
step_run (gpointer data, GCancellable *cancellable, GError **error)
{
  Step *step = data;
  return step->func (step->res, step->data, cancellable, error);
}

gboolean
ferry_res_run_both (FerryResources *res, FerryResStepFunc a, FerryResStepFunc b, gpointer data,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryPool) pool = ferry_pool_new (0, cancellable);
  Step first = { res, a, data }, second = { res, b, data };

  ferry_pool_add (pool, "first", step_run, &first, NULL, NULL);
  ferry_pool_add (pool, "second", step_run, &second, NULL, NULL);
  return ferry_pool_run (pool, error);
}

gboolean
ferry_res_update (FerryResources *res, const char *kind, const char *key, json_t *value, GError **error)
{
  return ferry_state_update (res->state, kind, key, value, error);
}

/* --tag-specifications for one resource type, as JSON (no shorthand quoting to get wrong). */
char *
ferry_res_tag_specifications (FerryResources *res, const char *type, gboolean with_name)
{
  g_autoptr(json_t) tags = json_pack ("[{s:s, s:s}]", "Key", FERRY_TAG_KEY, "Value", ferry_res_name (res));
  g_autoptr(json_t) spec = NULL;

  if (with_name)
    json_array_append_new (tags, json_pack ("{s:s, s:s}", "Key", "Name", "Value", ferry_res_name (res)));
  spec = json_pack ("[{s:s, s:O}]", "ResourceType", type, "Tags", tags);
  return json_dumps (spec, JSON_COMPACT);
}

/* Whether an aws Tags array ([{Key, Value}]) says ferry:name=<NAME>. */
gboolean
ferry_res_tags_are_ours (FerryResources *res, json_t *tags)
{
  return g_strcmp0 (ferry_tags_owner (tags), ferry_res_name (res)) == 0;
}

json_t *
ferry_res_call (FerryResources *res, const char *service, const char *operation, GStrvBuilder *b,
          GCancellable *cancellable, GError **error)
{
  g_auto(GStrv) args = g_strv_builder_end (b);
  return ferry_aws_call (res->aws, service, operation, (const char *const *) args, cancellable,
                         error);
}

/* In dry-run a create call returns nothing; later calls show this in place of the id. */
const char *
ferry_res_id_or_placeholder (FerryResources *res, json_t *value, const char *placeholder)
{
  const char *id = json_string_value (value);
  return id != NULL ? id : res->dry_run ? placeholder : NULL;
}

gboolean
ferry_res_missing_member (GError **error, const char *operation, const char *member)
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
