/* Unit tests for the pool: milestones order the steps, the bound holds, the first failure stops
 * the siblings (which say so) and starts nothing more, and the caller's cancellable stops all. */
#include "core/pool.h"
#include "test-init.h"

typedef struct
{
  GMutex lock;
  GString *order;
  gint running;
  gint max_running;
  FerryPool *pool;
} Log;

typedef struct
{
  Log *log;
  const char *name;
  guint sleep_ms;
  gboolean fail;
  const char *reach; /* a milestone reached halfway */
} Job;

static gboolean
job_run (gpointer data, GCancellable *cancellable, GError **error)
{
  Job *job = data;
  gint now = g_atomic_int_add (&job->log->running, 1) + 1;
  gboolean ok;

  g_mutex_lock (&job->log->lock);
  job->log->max_running = MAX (job->log->max_running, now);
  g_string_append_printf (job->log->order, "%s ", job->name);
  g_mutex_unlock (&job->log->lock);
  if (job->reach != NULL)
    ferry_pool_reach (job->log->pool, job->reach);
  ok = ferry_sleep (job->sleep_ms, cancellable, error);
  g_atomic_int_add (&job->log->running, -1);
  if (ok && job->fail)
    return ferry_throw (error, FERRY_ERROR_FAILED, "%s broke", job->name);
  return ok;
}

static void
collect (const char *message, gpointer data)
{
  g_ptr_array_add (data, g_strdup (message));
}

static void
test_order (void)
{
  Log log = { .order = g_string_new (NULL) };
  g_autoptr(FerryPool) pool = ferry_pool_new (0, NULL);
  g_autoptr(GError) error = NULL;
  Job a = { &log, "a", 50, FALSE, "a-half" }, b = { &log, "b", 0, FALSE, NULL },
      c = { &log, "c", 0, FALSE, NULL }, d = { &log, "d", 0, FALSE, NULL };
  const char *after_a[] = { "a", NULL }, *after_half[] = { "a-half", NULL },
             *after_bc[] = { "b", "net", NULL }, *provides[] = { "net", NULL },
             *a_provides[] = { "a-half", NULL };

  log.pool = pool;
  ferry_pool_add (pool, "d", job_run, &d, after_bc, NULL);
  ferry_pool_add (pool, "b", job_run, &b, after_a, NULL);
  ferry_pool_add (pool, "c", job_run, &c, after_half, provides);
  ferry_pool_add (pool, "a", job_run, &a, NULL, a_provides);
  g_assert_true (ferry_pool_run (pool, &error));
  g_assert_no_error (error);
  /* c starts at a's milestone, before a ends; b after a; d after both b and what c provides. */
  g_assert_cmpstr (log.order->str, ==, "a c b d ");
  g_assert_true (ferry_pool_succeeded (pool, "d"));
  g_string_free (log.order, TRUE);
}

static void
test_bound (void)
{
  Log log = { .order = g_string_new (NULL) };
  g_autoptr(FerryPool) pool = ferry_pool_new (2, NULL);
  Job jobs[6];

  log.pool = pool;
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      g_autofree char *name = g_strdup_printf ("j%u", i);
      jobs[i] = (Job){ &log, "j", 30, FALSE, NULL };
      ferry_pool_add (pool, name, job_run, &jobs[i], NULL, NULL);
    }
  g_assert_true (ferry_pool_run (pool, NULL));
  g_assert_cmpint (log.max_running, ==, 2);
  g_string_free (log.order, TRUE);
}

static void
test_first_failure (void)
{
  Log log = { .order = g_string_new (NULL) };
  g_autoptr(FerryPool) pool = ferry_pool_new (0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  Job slow = { &log, "slow", 20000, FALSE, NULL }, bad = { &log, "bad", 20, TRUE, NULL },
      later = { &log, "later", 0, FALSE, NULL };
  const char *after_bad[] = { "bad", NULL };
  gint64 start = g_get_monotonic_time ();

  log.pool = pool;
  ferry_pool_set_log (pool, collect, lines);
  ferry_pool_add (pool, "slow", job_run, &slow, NULL, NULL);
  ferry_pool_add (pool, "bad", job_run, &bad, NULL, NULL);
  ferry_pool_add (pool, "later", job_run, &later, after_bad, NULL);
  g_assert_false (ferry_pool_run (pool, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "bad broke");
  /* The 20 s sibling was stopped, not waited for, and said so on one line. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (lines->pdata[0], ==, "slow: stopped, since bad failed (what it made is recorded)");
  g_assert_null (strstr (log.order->str, "later"));
  g_assert_false (ferry_pool_succeeded (pool, "later"));
  g_string_free (log.order, TRUE);
}

static gpointer
cancel_soon (gpointer data)
{
  g_usleep (50 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel (void)
{
  Log log = { .order = g_string_new (NULL) };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(FerryPool) pool = ferry_pool_new (0, cancellable);
  g_autoptr(GError) error = NULL;
  Job one = { &log, "one", 20000, FALSE, NULL }, two = { &log, "two", 20000, FALSE, NULL };
  gint64 start = g_get_monotonic_time ();
  GThread *canceller;

  log.pool = pool;
  ferry_pool_add (pool, "one", job_run, &one, NULL, NULL);
  ferry_pool_add (pool, "two", job_run, &two, NULL, NULL);
  /* As Ctrl-C does: from another thread, while the steps run. */
  canceller = g_thread_new ("cancel", cancel_soon, cancellable);
  g_assert_false (ferry_pool_run (pool, &error));
  g_thread_join (canceller);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_string_free (log.order, TRUE);
}

/* A step started early runs while the caller works, and run waits for it. */
static void
test_start (void)
{
  Log log = { .order = g_string_new (NULL) };
  g_autoptr(FerryPool) pool = ferry_pool_new (0, NULL);
  Job probe = { &log, "probe", 50, FALSE, NULL };

  log.pool = pool;
  ferry_pool_add (pool, "probe", job_run, &probe, NULL, NULL);
  ferry_pool_start (pool);
  for (guint i = 0; i < 200 && g_atomic_int_get (&log.running) == 0 && log.order->len == 0; i++)
    g_usleep (5000);
  g_mutex_lock (&log.lock);
  g_assert_cmpstr (log.order->str, ==, "probe ");
  g_mutex_unlock (&log.lock);
  g_assert_true (ferry_pool_run (pool, NULL));
  g_assert_true (ferry_pool_succeeded (pool, "probe"));
  g_string_free (log.order, TRUE);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/pool/order", test_order);
  g_test_add_func ("/pool/bound", test_bound);
  g_test_add_func ("/pool/first-failure", test_first_failure);
  g_test_add_func ("/pool/cancel", test_cancel);
  g_test_add_func ("/pool/start", test_start);
  return g_test_run ();
}
