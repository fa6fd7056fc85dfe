/* Remote runs: snakemake living on the remote in a session of its own, with a record under
 * DIR/.ferry/runs/ID/; started, listed, followed across lost connections, and cancelled by id. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "agent.h"
#include "remote.h"
#include "remote-private.h"

#define RUNS_DIR ".ferry/runs"

void
ferry_run_free (FerryRun *run)
{
  if (run == NULL)
    return;
  g_free (run->id);
  if (run->record != NULL)
    json_decref (run->record);
  if (run->on_end != NULL)
    json_decref (run->on_end);
  g_free (run);
}

const char *
ferry_run_state_name (FerryRunState state)
{
  switch (state)
    {
    case FERRY_RUN_RUNNING:
      return "running";
    case FERRY_RUN_EXITED:
      return "exited";
    case FERRY_RUN_CANCELLED:
      return "cancelled";
    case FERRY_RUN_LOST:
    default:
      return "lost";
    }
}

char *
ferry_run_new_id (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");

  return g_strdup_printf ("%s-%04x", stamp, g_random_int_range (0, 0x10000));
}

gboolean
ferry_run_id_valid (const char *id)
{
  return id != NULL && g_regex_match_simple ("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", id, 0, 0);
}

/* DIR/.ferry/runs/ID as a path word of the remote command. */
static void
cmd_run_dir (GString *cmd, const char *remote_dir, const char *id)
{
  g_autofree char *d = g_strconcat (remote_dir, "/" RUNS_DIR "/", id, NULL);
  ferry_remote_cmd_path (cmd, d);
}

/* One remote command, its stdin fed from input. Returns FALSE only when ssh could not be run or the
 * wait was cancelled: a lost connection is *out_exit 255, with ssh's last line in *out_err. */
static gboolean
run_capture (FerryRemote *remote, const char *command, GBytes *input, GBytes **out_stdout,
             int *out_exit, char **out_err, GCancellable *cancellable, GError **error)
{
  g_autofree char *err = NULL;

  if (!ferry_remote_exchange (remote, TRUE, command, input, out_stdout, out_exit, &err, cancellable,
                              error))
    return FALSE;
  if (out_err != NULL)
    *out_err = ferry_remote_last_line (err);
  return TRUE;
}

/* As run_capture, with a lost connection and any non-zero exit as errors. */
static gboolean
run_capture_check (FerryRemote *remote, const char *command, GBytes *input, GBytes **out_stdout,
                   const char *what, GCancellable *cancellable, GError **error)
{
  g_autofree char *err = NULL;
  int code = 0;

  if (!run_capture (remote, command, input, out_stdout, &code, &err, cancellable, error))
    return FALSE;
  if (!ferry_remote_check_connection (remote, code, err, error))
    return FALSE;
  if (code != 0)
    {
      g_autofree char *who = ferry_remote_display (remote);
      return ferry_throw (error, FERRY_ERROR_CHILD, "%s on %s failed (exit %d)%s%s", what, who, code,
                          *err ? ": " : "", err);
    }
  return TRUE;
}

/* --- start -------------------------------------------------------------------------------------- */

/* The run's own script, kept as DIR/.ferry/runs/ID/run.sh and started there in a new session: it
 * records its pid (= process group = session), runs snakemake in DIR with the log in the record, and
 * writes the exit status when snakemake ends. Its traps only keep it alive to write that status
 * (a trapped signal is reset to the default in snakemake). With an agent (the record's --then is the
 * instance's), it writes agent.sh and starts it in a session of its own, and starts another after
 * snakemake, which leaves at once unless the first is gone (killed): the agent tells a live agent
 * from a dead one, and carries out --then once, whoever started it. */
static char *
run_script (const char *id, const char *const *argv, const char *agent)
{
  g_autofree char *quoted = ferry_remote_quote_argv (argv);
  g_autoptr(GString) s = g_string_new (NULL);

  g_string_append_printf (s,
                          "# ferry run %s: snakemake in a session of its own (see run.json)\n"
                          "echo $$ >pid.tmp && mv pid.tmp pid\n"
                          "date +%%s >started\n"
                          "trap : INT TERM HUP\n",
                          id);
  if (agent != NULL)
    g_string_append_printf (s,
                            "cat >agent.sh <<'FERRY_AGENT_END'\n%s%sFERRY_AGENT_END\n"
                            "ferry_agent() { if setsid -f true >/dev/null 2>&1; then setsid -f /bin/sh"
                            " agent.sh </dev/null >>agent.log 2>&1; else /bin/sh agent.sh </dev/null"
                            " >>agent.log 2>&1 & fi; }\n"
                            "ferry_agent\n",
                            agent, g_str_has_suffix (agent, "\n") ? "" : "\n");
  g_string_append_printf (s,
                          "R=" RUNS_DIR "/%s\n"
                          "cd ../../.. || { echo 127 >exit; exit 1; }\n"
                          "%s </dev/null >>\"$R/log\" 2>&1\n"
                          "echo $? >\"$R/exit.tmp\"\n"
                          "date +%%s >\"$R/ended\"\n"
                          "mv \"$R/exit.tmp\" \"$R/exit\"\n",
                          id, quoted);
  if (agent != NULL)
    g_string_append (s, "cd \"$R\" && ferry_agent\n");
  return g_string_free (g_steal_pointer (&s), FALSE);
}

FerryRun *
ferry_remote_run_start (FerryRemote *remote, const char *remote_dir, const char *id,
                        json_t *record, const char *const *argv, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GBytes) in_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(FerryRun) run = g_new0 (FerryRun, 1);
  g_autofree char *rec = NULL;
  g_autofree char *script = NULL;
  g_autofree char *text = NULL;
  g_autofree char *agent = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (ferry_run_id_valid (id), NULL);
  json_object_set_new (record, "id", json_string (id));
  json_object_set_new (record, "remote_dir", json_string (remote_dir));
  agent = ferry_agent_render (record, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  rec = json_dumps (record, JSON_COMPACT | JSON_SORT_KEYS);
  script = run_script (id, argv, agent);
  /* The record (one line of JSON) and the script go over stdin: targets are paths, and no list of
   * paths goes into an argv. */
  g_string_append_printf (input, "%s\n%s", rec, script);
  in_bytes = g_bytes_new (input->str, input->len);

  ferry_remote_cmd_op (cmd, "mkdir -p");
  cmd_run_dir (cmd, remote_dir, id);
  ferry_remote_cmd_op (cmd, "&& cd");
  cmd_run_dir (cmd, remote_dir, id);
  /* The run keeps none of the session's descriptors, so the session ends at once; without setsid
   * -f (not Linux, or util-linux before 2.31), python (snakemake's) makes the session. Not a `&`
   * of this shell: that would start the run with SIGINT ignored, so cancel's SIGINT would never
   * reach snakemake (which then neither stops its jobs nor scancels its SLURM jobs); python puts
   * SIGINT back. The pid file is its first act. */
  ferry_remote_cmd_op (
      cmd, "&& IFS= read -r rec && printf '%s\\n' \"$rec\" >run.json && cat >run.sh || exit 1;"
           " if setsid -f true >/dev/null 2>&1; then setsid -f /bin/sh run.sh </dev/null >/dev/null"
           " 2>&1; else python3 -c 'import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL);"
           " signal.signal(signal.SIGQUIT, signal.SIG_DFL); os.setsid(); os.execv(\"/bin/sh\","
           " [\"sh\", \"run.sh\"])' </dev/null >/dev/null 2>&1 & fi;"
           " i=0; while test ! -s pid && test $i -lt 200; do i=$((i+1)); sleep 0.05 2>/dev/null"
           " || sleep 1; done; cat pid");
  if (!run_capture_check (remote, cmd->str, in_bytes, &out, "starting the run", cancellable,
                          error))
    return NULL;
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  run->pgid = g_ascii_strtoll (g_strstrip (text), NULL, 10);
  if (run->pgid <= 1)
    return (ferry_throw (error, FERRY_ERROR_FAILED,
                         "the run %s did not start on %s (no pid in %s/" RUNS_DIR "/%s)", id,
                         remote->host, remote_dir, id),
            NULL);
  run->id = g_strdup (id);
  run->record = json_incref (record);
  run->state = FERRY_RUN_RUNNING;
  run->exit_status = -1;
  return g_steal_pointer (&run);
}

/* --- list --------------------------------------------------------------------------------------- */

/* Lines of "key value" per run, safe by construction: ids are checked, numbers are numbers, and the
 * record is one line of JSON. */
static const char list_body[]
    = "echo \"now $(date +%s)\"; for d in $ids; do d=${d%/}; test -f \"$d/run.json\" || continue;"
      " echo \"run $d\"; echo \"record $(cat \"$d/run.json\")\";"
      " for k in pid started ended exit; do test -s \"$d/$k\" && echo \"$k $(cat \"$d/$k\")\"; done;"
      " test -e \"$d/cancelled\" && echo cancelled;"
      " test -s \"$d/on-end\" && sed 's/^/onend /' \"$d/on-end\";"
      " a=$(cat \"$d/agent.pid\" 2>/dev/null); test -n \"$a\" && kill -s 0 \"$a\" 2>/dev/null && { test ! -d"
      " /proc/self || grep -q 'agent\\.sh' \"/proc/$a/cmdline\" 2>/dev/null; } && echo agent;"
      " test -s \"$d/pid\" && kill -s 0 -- \"-$(cat \"$d/pid\")\" 2>/dev/null && echo alive;"
      " echo \"size $(wc -c <\"$d/log\" 2>/dev/null | tr -d ' ')\"; echo end; done";

static GPtrArray *
parse_runs (const char *text, GError **error)
{
  g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_run_free);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  FerryRun *cur = NULL;
  gboolean alive = FALSE, cancelled = FALSE;
  gint64 now = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = lines[i];
      char *sp = strchr (line, ' ');
      const char *value = sp ? sp + 1 : "";

      if (sp != NULL)
        *sp = '\0';
      if (g_str_equal (line, "now"))
        now = g_ascii_strtoll (value, NULL, 10);
      else if (g_str_equal (line, "run"))
        {
          cur = g_new0 (FerryRun, 1);
          cur->id = g_strdup (value);
          cur->exit_status = -1;
          cur->now = now;
          alive = cancelled = FALSE;
          g_ptr_array_add (runs, cur);
        }
      else if (cur == NULL)
        continue;
      else if (g_str_equal (line, "record"))
        cur->record = json_loads (value, 0, NULL);
      else if (g_str_equal (line, "pid"))
        cur->pgid = g_ascii_strtoll (value, NULL, 10);
      else if (g_str_equal (line, "started"))
        cur->started = g_ascii_strtoll (value, NULL, 10);
      else if (g_str_equal (line, "ended"))
        cur->ended = g_ascii_strtoll (value, NULL, 10);
      else if (g_str_equal (line, "exit"))
        cur->exit_status = (int) g_ascii_strtoll (value, NULL, 10);
      else if (g_str_equal (line, "cancelled"))
        cancelled = TRUE;
      else if (g_str_equal (line, "alive"))
        alive = TRUE;
      else if (g_str_equal (line, "agent"))
        cur->agent_alive = TRUE;
      else if (g_str_equal (line, "onend"))
        {
          /* EPOCH WORD DETAIL, as the agent wrote it */
          g_auto(GStrv) f = g_strsplit (value, " ", 3);
          if (f[0] != NULL && f[1] != NULL)
            {
              if (cur->on_end == NULL)
                cur->on_end = json_array ();
              json_array_append_new (cur->on_end,
                                     json_pack ("[I, s, s]", (json_int_t) g_ascii_strtoll (f[0], NULL, 10),
                                                f[1], f[2] ? f[2] : ""));
            }
        }
      else if (g_str_equal (line, "size"))
        cur->log_size = g_ascii_strtoull (value, NULL, 10);
      else if (g_str_equal (line, "end"))
        {
          if (cur->record == NULL)
            cur->record = json_object ();
          if (cancelled)
            cur->state = FERRY_RUN_CANCELLED;
          else if (cur->exit_status >= 0)
            cur->state = FERRY_RUN_EXITED;
          else if (alive || cur->pgid == 0)
            cur->state = FERRY_RUN_RUNNING;
          else
            cur->state = FERRY_RUN_LOST;
          cur = NULL;
        }
    }
  if (cur != NULL)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "a cut-off list of runs from the remote"),
            NULL);
  return g_steal_pointer (&runs);
}

static gboolean
list_runs (FerryRemote *remote, const char *remote_dir, const char *id, GPtrArray **out_runs,
           int *out_exit, char **out_err, GCancellable *cancellable, GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GBytes) out = NULL;
  g_autofree char *text = NULL;
  g_autofree char *runs_dir = g_strconcat (remote_dir, "/" RUNS_DIR, NULL);

  ferry_remote_cmd_op (cmd, "cd");
  ferry_remote_cmd_path (cmd, runs_dir);
  ferry_remote_cmd_op (cmd, "2>/dev/null || exit 0;");
  if (id != NULL)
    {
      ferry_remote_cmd_op (cmd, "ids=");
      g_string_append (cmd, id); /* checked: letters, digits, . _ - */
    }
  else
    ferry_remote_cmd_op (cmd, "ids=$(ls -d */ 2>/dev/null)");
  ferry_remote_cmd_op (cmd, ";");
  ferry_remote_cmd_op (cmd, list_body);
  if (!run_capture (remote, cmd->str, NULL, &out, out_exit, out_err, cancellable, error))
    return FALSE;
  if (*out_exit != 0)
    return TRUE;
  /* No runs dir answers nothing, and GBytes of nothing may hold no data at all. */
  text = g_strndup (g_bytes_get_size (out) > 0 ? g_bytes_get_data (out, NULL) : "",
                    g_bytes_get_size (out));
  *out_runs = parse_runs (text, error);
  return *out_runs != NULL;
}

GPtrArray *
ferry_remote_runs_list (FerryRemote *remote, const char *remote_dir, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr(GPtrArray) runs = NULL;
  g_autofree char *err = NULL;
  int code = 0;

  if (!list_runs (remote, remote_dir, NULL, &runs, &code, &err, cancellable, error))
    return NULL;
  if (!ferry_remote_check_connection (remote, code, err, error))
    return NULL;
  if (code != 0)
    return (ferry_throw (error, FERRY_ERROR_CHILD, "listing the runs on %s failed (exit %d)%s%s",
                         remote->host, code, *err ? ": " : "", err),
            NULL);
  return g_steal_pointer (&runs);
}

FerryRun *
ferry_remote_run_find (FerryRemote *remote, const char *remote_dir, const char *id,
                       GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) runs = NULL;

  if (id != NULL && !ferry_run_id_valid (id))
    return (ferry_throw (error, FERRY_ERROR_USAGE, "invalid run id \"%s\"", id), NULL);
  runs = ferry_remote_runs_list (remote, remote_dir, cancellable, error);
  if (runs == NULL)
    return NULL;
  for (guint i = runs->len; i > 0; i--)
    {
      FerryRun *run = runs->pdata[i - 1];
      if (id == NULL || g_str_equal (run->id, id))
        return g_ptr_array_steal_index (runs, i - 1);
    }
  if (id == NULL)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no runs in %s:%s (ferry run starts one)",
                         remote->host, remote_dir),
            NULL);
  return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                       "no run %s in %s:%s (ferry status lists the runs there)", id, remote->host,
                       remote_dir),
          NULL);
}

/* --- follow ------------------------------------------------------------------------------------- */

typedef enum
{
  FOLLOW_ENDED,     /* the log is complete: the run's process is gone */
  FOLLOW_LOST,      /* the connection dropped (ssh exited 255) */
  FOLLOW_CANCELLED, /* the invocation was cancelled (a signal): stop following */
} FollowOutcome;

typedef struct
{
  GMainLoop *loop;
  FerryFollow *follow;
  FerryRun *run;
  GString *header;
  gboolean header_done;
  gboolean connected;
  gboolean eof;
  gboolean exited;
  GError *write_error;
  GCancellable *cancellable;
  gint64 lost_since; /* monotonic time the connection was lost, 0 if it was not */
  const char *host;
} FollowData;

static void
follow_maybe_quit (FollowData *d)
{
  if (d->eof && d->exited)
    g_main_loop_quit (d->loop);
}

static void
on_follow_exit (GObject *source, GAsyncResult *res, gpointer user_data)
{
  FollowData *d = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  d->exited = TRUE;
  follow_maybe_quit (d);
}

static void
follow_write (FollowData *d, const char *data, gsize len)
{
  if (len == 0)
    return;
  if (d->follow->display != NULL && d->write_error == NULL)
    g_output_stream_write_all (d->follow->display, data, len, NULL, NULL, &d->write_error);
  if (d->follow->log != NULL)
    g_output_stream_write_all (d->follow->log, data, len, NULL, NULL, NULL);
  d->follow->offset += len;
}

static void
on_follow_output (GObject *source, GAsyncResult *res, gpointer user_data)
{
  FollowData *d = user_data;
  g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, NULL);
  const char *data;
  gsize len;

  if (chunk == NULL || g_bytes_get_size (chunk) == 0)
    {
      d->eof = TRUE;
      follow_maybe_quit (d);
      return;
    }
  data = g_bytes_get_data (chunk, &len);
  if (!d->header_done)
    {
      /* "ferry-follow OFFSET\n": where the remote starts (asked for, or the last N lines). */
      const char *nl = memchr (data, '\n', len);
      gsize take = nl ? (gsize) (nl - data) + 1 : len;
      g_string_append_len (d->header, data, take);
      data += take;
      len -= take;
      if (nl != NULL)
        {
          d->header_done = TRUE;
          d->connected = TRUE;
          if (g_str_has_prefix (d->header->str, "ferry-follow "))
            d->follow->offset = g_ascii_strtoull (d->header->str + strlen ("ferry-follow "), NULL, 10);
          if (d->lost_since != 0 && d->follow->note != NULL)
            {
              g_autofree char *line = g_strdup_printf (
                  "reconnected to %s after %.1f s; the log resumes at byte %" G_GUINT64_FORMAT,
                  d->host, (g_get_monotonic_time () - d->lost_since) / 1e6, d->follow->offset);
              d->follow->note (line, d->follow->hook_data);
            }
        }
    }
  if (d->header_done)
    follow_write (d, data, len);
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), 65536, G_PRIORITY_DEFAULT, NULL,
                                   on_follow_output, d);
}

static gboolean
on_follow_tick (gpointer user_data)
{
  FollowData *d = user_data;
  g_autofree char *line = NULL;

  if (d->follow->status_line == NULL || !d->connected)
    return G_SOURCE_CONTINUE;
  line = d->follow->status_line (d->run, d->follow->hook_data, d->cancellable);
  if (line != NULL && d->follow->note != NULL)
    d->follow->note (line, d->follow->hook_data);
  return G_SOURCE_CONTINUE;
}

/* One ssh session streaming the remote log from follow->offset (or its last tail_lines lines)
 * until the run's process is gone. */
static gboolean
follow_once (FerryRemote *remote, const char *remote_dir, FerryRun *run, FerryFollow *follow,
             gint64 lost_since, FollowOutcome *outcome, gboolean *out_connected, char **out_err,
             GCancellable *cancellable, GError **error)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (ctx, FALSE);
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GString) header = g_string_new (NULL);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSource) tick = NULL;
  g_autofree char *err = NULL;
  FollowData d = { 0 };
  int err_fd = -1, code;
  gulong cancel_id;

  ferry_remote_cmd_op (cmd, "cd");
  cmd_run_dir (cmd, remote_dir, run->id);
  ferry_remote_cmd_op (cmd, "|| exit 3; touch log;");
  /* The hold stays fresh while this session lives, and once more when the run has ended. */
  if (follow->hold)
    ferry_remote_cmd_op (cmd, "touch hold; (while kill -s 0 $$ 2>/dev/null && sleep 10; do touch hold;"
                              " done) </dev/null >/dev/null 2>&1 & h=$!;");
  if (follow->tail_lines >= 0 && follow->offset == 0)
    g_string_append_printf (cmd, " sz=$(wc -c <log | tr -d ' '); t=$(head -c \"$sz\" log | tail -n %d"
                                 " | wc -c | tr -d ' '); off=$((sz - t));",
                            follow->tail_lines);
  else
    g_string_append_printf (cmd, " off=%" G_GUINT64_FORMAT ";", follow->offset);
  /* GNU tail: -c +N starts at byte N (1-based); --pid ends it once the run's process is gone,
   * after a last read, so the log is complete when the stream ends. */
  if (follow->hold)
    ferry_remote_cmd_op (cmd, "echo \"ferry-follow $off\"; if test -s exit || ! test -s pid; then"
                              " tail -c +$((off + 1)) log; else tail -c +$((off + 1)) -s 0.2"
                              " --pid=\"$(cat pid)\" -f log; fi; r=$?; touch hold; kill $h 2>/dev/null;"
                              " exit $r");
  else
    ferry_remote_cmd_op (cmd, "echo \"ferry-follow $off\"; if test -s exit || ! test -s pid; then exec"
                              " tail -c +$((off + 1)) log; fi; exec tail -c +$((off + 1)) -s 0.2"
                              " --pid=\"$(cat pid)\" -f log");

  g_main_context_push_thread_default (ctx);
  proc = ferry_remote_spawn_full (remote, FALSE, TRUE, cmd->str, G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                  &err_fd, error);
  if (proc == NULL)
    {
      g_main_context_pop_thread_default (ctx);
      return FALSE;
    }
  d.loop = loop;
  d.follow = follow;
  d.run = run;
  d.header = header;
  d.cancellable = cancellable;
  d.lost_since = lost_since;
  d.host = remote->host;
  cancel_id = ferry_remote_kill_on_cancel (proc, cancellable);
  g_subprocess_wait_async (proc, NULL, on_follow_exit, &d);
  g_input_stream_read_bytes_async (g_subprocess_get_stdout_pipe (proc), 65536, G_PRIORITY_DEFAULT,
                                   NULL, on_follow_output, &d);
  if (follow->status_line != NULL && follow->status_interval_s > 0)
    {
      tick = g_timeout_source_new_seconds (follow->status_interval_s);
      g_source_set_callback (tick, on_follow_tick, &d, NULL);
      g_source_attach (tick, ctx);
    }
  g_main_loop_run (loop);
  if (tick != NULL)
    g_source_destroy (tick);
  g_main_context_pop_thread_default (ctx);
  if (follow->log != NULL)
    g_output_stream_flush (follow->log, NULL, NULL);

  *out_connected = d.connected;
  if (!ferry_remote_child_finish (proc, cancellable, cancel_id, NULL))
    {
      close (err_fd);
      g_clear_error (&d.write_error);
      *outcome = FOLLOW_CANCELLED;
      return TRUE;
    }
  err = ferry_remote_read_stderr (err_fd);
  code = ferry_remote_exit_code (g_subprocess_get_status (proc));
  if (d.write_error != NULL)
    {
      g_propagate_prefixed_error (error, d.write_error, "showing the log: ");
      return FALSE;
    }
  if (code == 255)
    {
      *out_err = ferry_remote_last_line (err);
      *outcome = FOLLOW_LOST;
      return TRUE;
    }
  if (code == 3)
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND, "no run %s in %s:%s", run->id, remote->host,
                        remote_dir);
  if (code != 0)
    {
      g_autofree char *line = ferry_remote_last_line (err);
      return ferry_throw (error, FERRY_ERROR_CHILD, "following the log of run %s failed (exit %d)%s%s",
                          run->id, code, *line ? ": " : "", line);
    }
  *outcome = FOLLOW_ENDED;
  return TRUE;
}

static void
follow_note (FerryFollow *follow, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
follow_note (FerryFollow *follow, const char *fmt, ...)
{
  g_autofree char *line = NULL;
  va_list args;

  if (follow->note == NULL)
    return;
  va_start (args, fmt);
  line = g_strdup_vprintf (fmt, args);
  va_end (args);
  follow->note (line, follow->hook_data);
}

gboolean
ferry_remote_run_follow (FerryRemote *remote, const char *remote_dir, FerryRun *run,
                         FerryFollow *follow, GCancellable *cancellable, GError **error)
{
  gint64 lost_since = 0;
  guint backoff_ms = 250;

  for (;;)
    {
      FollowOutcome outcome = FOLLOW_ENDED;
      gboolean connected = FALSE;
      g_autofree char *why = NULL;
      g_autoptr(FerryRun) now = NULL;
      g_autoptr(GPtrArray) runs = NULL;
      int code = 0;

      if (!follow_once (remote, remote_dir, run, follow, lost_since, &outcome, &connected, &why,
                        cancellable, error))
        return FALSE;
      if (outcome == FOLLOW_CANCELLED)
        return !g_cancellable_set_error_if_cancelled (cancellable, error);
      if (connected && lost_since != 0)
        {
          lost_since = 0;
          backoff_ms = 250;
        }
      if (outcome == FOLLOW_ENDED)
        {
          /* The log is complete; the record says how it ended. */
          g_clear_pointer (&why, g_free);
          if (!list_runs (remote, remote_dir, run->id, &runs, &code, &why, cancellable, error))
            return FALSE;
          if (code == 0 && runs->len > 0)
            {
              now = g_ptr_array_steal_index (runs, 0);
              if (now->state != FERRY_RUN_RUNNING)
                {
                  run->state = now->state;
                  run->exit_status = now->exit_status;
                  run->ended = now->ended;
                  run->started = now->started;
                  run->now = now->now;
                  run->agent_alive = now->agent_alive;
                  if (run->on_end != NULL)
                    json_decref (run->on_end);
                  run->on_end = g_steal_pointer (&now->on_end);
                  return TRUE;
                }
              /* Not started yet (no pid), or the stream ended early: look again shortly. */
              if (!ferry_sleep (200, cancellable, error))
                return FALSE;
              continue;
            }
          if (code != 255)
            return ferry_throw (error, FERRY_ERROR_CHILD, "reading the record of run %s failed (exit %d)%s%s",
                                run->id, code, why && *why ? ": " : "", why ? why : "");
        }
      /* The connection is gone: the run goes on there. Try again, with backoff, for a while. */
      if (lost_since == 0)
        {
          lost_since = g_get_monotonic_time ();
          follow_note (follow, "connection to %s lost (%s); the run goes on there; reconnecting for up"
                               " to %u s (Ctrl-C detaches)",
                       remote->host, why && *why ? why : "ssh failed", follow->reconnect_timeout_s);
        }
      else if (g_get_monotonic_time () - lost_since
               > (gint64) follow->reconnect_timeout_s * G_USEC_PER_SEC)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "no connection to %s for %u s (%s); the run %s goes on there: ferry attach"
                            " %s follows it again",
                            remote->host, follow->reconnect_timeout_s,
                            why && *why ? why : "ssh failed", run->id, run->id);
      if (!ferry_sleep (backoff_ms, cancellable, error))
        return FALSE;
      backoff_ms = MIN (backoff_ms * 2, 1000);
    }
}

/* --- cancel ------------------------------------------------------------------------------------- */

gboolean
ferry_remote_run_cancel (FerryRemote *remote, const char *remote_dir, FerryRun *run, guint grace_s,
                         gboolean *out_was_running, GCancellable *cancellable, GError **error)
{
  g_autoptr(GString) cmd = g_string_new (NULL);
  g_autoptr(GBytes) out = NULL;
  g_autoptr(FerryRun) after = NULL;
  g_autofree char *text = NULL;

  ferry_remote_cmd_op (cmd, "cd");
  cmd_run_dir (cmd, remote_dir, run->id);
  ferry_remote_cmd_op (cmd, "|| exit 3;");
  /* SIGINT to the process group stops snakemake as Ctrl-C would (jobs killed, outputs marked
   * incomplete); SIGTERM after the grace period, SIGKILL after another; then wait until the group
   * is gone. */
  g_string_append_printf (
      cmd, " test -s exit && { echo ended; exit 0; }; pg=$(cat pid 2>/dev/null);"
           " test -n \"$pg\" && kill -s 0 -- \"-$pg\" 2>/dev/null || { echo lost; exit 0; };"
           " : >cancelled; kill -s INT -- \"-$pg\"; i=0; g=%u;"
           " while kill -s 0 -- \"-$pg\" 2>/dev/null; do i=$((i + 1));"
           " if test $i -eq $g; then kill -s TERM -- \"-$pg\"; fi;"
           " if test $i -eq $((2 * g)); then kill -s KILL -- \"-$pg\"; fi;"
           " sleep 0.2 2>/dev/null || sleep 1; done;"
           " test -s exit || { echo 137 >exit.tmp; date +%%s >ended; mv exit.tmp exit; };"
           " echo cancelled",
      MAX (grace_s, 1) * 5);
  if (!run_capture_check (remote, cmd->str, NULL, &out, "cancelling the run", cancellable, error))
    return FALSE;
  text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  *out_was_running = g_str_has_prefix (text, "cancelled");
  after = ferry_remote_run_find (remote, remote_dir, run->id, cancellable, error);
  if (after == NULL)
    return FALSE;
  run->state = after->state;
  run->exit_status = after->exit_status;
  run->ended = after->ended;
  run->now = after->now;
  return TRUE;
}

/* --- the record as JSON (status --json) ---------------------------------------------------------- */

json_t *
ferry_run_to_json (FerryRun *run)
{
  json_t *v = json_pack ("{s:s, s:s, s:O}", "id", run->id, "state", ferry_run_state_name (run->state),
                         "record", run->record ? run->record : json_null ());

  json_object_set_new (v, "exit_status",
                       run->exit_status >= 0 ? json_integer (run->exit_status) : json_null ());
  json_object_set_new (v, "pgid", run->pgid > 0 ? json_integer (run->pgid) : json_null ());
  json_object_set_new (v, "started", run->started > 0 ? json_integer (run->started) : json_null ());
  json_object_set_new (v, "ended", run->ended > 0 ? json_integer (run->ended) : json_null ());
  json_object_set_new (v, "seconds",
                       run->started > 0 ? json_integer ((run->ended > 0 ? run->ended : run->now)
                                                        - run->started)
                                        : json_null ());
  json_object_set_new (v, "log_bytes", json_integer ((json_int_t) run->log_size));
  json_object_set_new (v, "on_end", run->on_end ? json_incref (run->on_end) : json_array ());
  json_object_set_new (v, "agent_alive", json_boolean (run->agent_alive));
  return v;
}
