/* The one way ferry runs independent work at once: a bounded pool of steps on a private main
 * context, each started when what it waits for exists, the first failure cancelling the rest. */
#include "pool.h"

typedef enum
{
  STEP_WAITING,
  STEP_RUNNING,
  STEP_DONE,
  STEP_FAILED,
  STEP_SKIPPED,
} StepState;

typedef struct
{
  FerryPool *pool;
  char *name;
  FerryPoolFunc fn;
  gpointer data;
  GStrv after;
  GStrv provides;
  StepState state;
  GError *error;
} Step;

struct _FerryPool
{
  GMainContext *context;
  GCancellable *cancellable; /* ours: cancelled by the caller's, or by the first failure */
  GCancellable *parent;
  gulong parent_handler;
  guint max_parallel;
  GPtrArray *steps;
  GMutex lock; /* guards `reached` (ferry_pool_reach comes from the steps' threads) */
  GHashTable *reached;
  guint n_running;
  gboolean keep_going;
  Step *first_failure;
  FerryLogFunc log;
  gpointer log_data;
};

static void
step_free (Step *step)
{
  g_free (step->name);
  g_strfreev (step->after);
  g_strfreev (step->provides);
  g_clear_error (&step->error);
  g_free (step);
}

static void
on_parent_cancelled (GCancellable *parent, gpointer data)
{
  g_cancellable_cancel (data);
}

FerryPool *
ferry_pool_new (guint max_parallel, GCancellable *cancellable)
{
  FerryPool *pool = g_new0 (FerryPool, 1);

  pool->context = g_main_context_new ();
  pool->cancellable = g_cancellable_new ();
  pool->max_parallel = max_parallel;
  pool->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  pool->reached = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&pool->lock);
  if (cancellable != NULL)
    {
      pool->parent = g_object_ref (cancellable);
      pool->parent_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_parent_cancelled),
                                                    pool->cancellable, NULL);
    }
  return pool;
}

void
ferry_pool_free (FerryPool *pool)
{
  if (pool == NULL)
    return;
  if (pool->parent != NULL)
    {
      g_cancellable_disconnect (pool->parent, pool->parent_handler);
      g_object_unref (pool->parent);
    }
  g_object_unref (pool->cancellable);
  g_ptr_array_unref (pool->steps);
  g_hash_table_unref (pool->reached);
  g_mutex_clear (&pool->lock);
  g_main_context_unref (pool->context);
  g_free (pool);
}

void
ferry_pool_set_keep_going (FerryPool *pool, gboolean keep_going)
{
  pool->keep_going = keep_going;
}

void
ferry_pool_set_log (FerryPool *pool, FerryLogFunc log, gpointer log_data)
{
  pool->log = log;
  pool->log_data = log_data;
}

void
ferry_pool_add (FerryPool *pool, const char *name, FerryPoolFunc fn, gpointer data,
                const char *const *after, const char *const *provides)
{
  Step *step = g_new0 (Step, 1);

  step->pool = pool;
  step->name = g_strdup (name);
  step->fn = fn;
  step->data = data;
  step->after = g_strdupv ((char **) after);
  step->provides = g_strdupv ((char **) provides);
  g_ptr_array_add (pool->steps, step);
}

void
ferry_pool_reach (FerryPool *pool, const char *milestone)
{
  g_mutex_lock (&pool->lock);
  g_hash_table_add (pool->reached, g_strdup (milestone));
  g_mutex_unlock (&pool->lock);
  g_main_context_wakeup (pool->context);
}

static gboolean
reached (FerryPool *pool, const char *milestone)
{
  gboolean r;

  g_mutex_lock (&pool->lock);
  r = g_hash_table_contains (pool->reached, milestone);
  g_mutex_unlock (&pool->lock);
  return r;
}

/* A milestone that no step can reach any more: its step failed or was skipped, or no step has it. */
static gboolean
unreachable (FerryPool *pool, const char *milestone)
{
  if (reached (pool, milestone))
    return FALSE;
  for (guint i = 0; i < pool->steps->len; i++)
    {
      Step *s = pool->steps->pdata[i];
      if (g_str_equal (s->name, milestone)
          || (s->provides != NULL && g_strv_contains ((const char *const *) s->provides, milestone)))
        return s->state == STEP_FAILED || s->state == STEP_SKIPPED || s->state == STEP_DONE;
    }
  return TRUE;
}

static void
step_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Step *step = data;
  GError *error = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error)
      || !step->fn (step->data, cancellable, &error))
    {
      if (error == NULL)
        error = g_error_new (FERRY_ERROR, FERRY_ERROR_FAILED, "%s failed", step->name);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static void
step_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Step *step = data;
  FerryPool *pool = step->pool;

  pool->n_running--;
  if (g_task_propagate_boolean (G_TASK (result), &step->error))
    {
      step->state = STEP_DONE;
      ferry_pool_reach (pool, step->name);
      for (guint i = 0; step->provides != NULL && step->provides[i] != NULL; i++)
        ferry_pool_reach (pool, step->provides[i]);
      return;
    }
  step->state = STEP_FAILED;
  if (pool->first_failure == NULL
      && !g_error_matches (step->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      pool->first_failure = step;
      if (!pool->keep_going)
        g_cancellable_cancel (pool->cancellable);
    }
}

/* Starts every waiting step whose milestones are reached (within the bound); skips those whose
 * milestones never will be, or all of them once cancelled. */
static void
start_ready (FerryPool *pool)
{
  gboolean cancelled = g_cancellable_is_cancelled (pool->cancellable);

  for (guint i = 0; i < pool->steps->len; i++)
    {
      Step *s = pool->steps->pdata[i];
      gboolean ready = TRUE, blocked = FALSE;
      g_autoptr(GTask) task = NULL;

      if (s->state != STEP_WAITING)
        continue;
      for (guint j = 0; s->after != NULL && s->after[j] != NULL; j++)
        {
          if (reached (pool, s->after[j]))
            continue;
          ready = FALSE;
          blocked = blocked || unreachable (pool, s->after[j]);
        }
      if (cancelled || blocked)
        {
          s->state = STEP_SKIPPED;
          continue;
        }
      if (!ready || (pool->max_parallel > 0 && pool->n_running >= pool->max_parallel))
        continue;
      s->state = STEP_RUNNING;
      pool->n_running++;
      task = g_task_new (NULL, pool->cancellable, step_done, s);
      g_task_set_task_data (task, s, NULL);
      g_task_set_return_on_cancel (task, FALSE);
      g_task_run_in_thread (task, step_thread);
    }
}

static gboolean
any_waiting (FerryPool *pool)
{
  for (guint i = 0; i < pool->steps->len; i++)
    if (((Step *) pool->steps->pdata[i])->state == STEP_WAITING)
      return TRUE;
  return FALSE;
}

void
ferry_pool_start (FerryPool *pool)
{
  /* The steps' completions are dispatched on the pool's context, which ferry_pool_run iterates. */
  g_main_context_push_thread_default (pool->context);
  start_ready (pool);
  g_main_context_pop_thread_default (pool->context);
}

gboolean
ferry_pool_run (FerryPool *pool, GError **error)
{
  Step *failure;

  g_main_context_push_thread_default (pool->context);
  for (;;)
    {
      start_ready (pool);
      if (pool->n_running == 0 && !any_waiting (pool))
        break;
      g_main_context_iteration (pool->context, TRUE);
    }
  g_main_context_pop_thread_default (pool->context);

  failure = pool->first_failure;
  for (guint i = 0; failure != NULL && i < pool->steps->len; i++)
    {
      Step *s = pool->steps->pdata[i];
      if (s != failure && s->state == STEP_FAILED && !pool->keep_going && pool->log != NULL)
        {
          g_autofree char *line = g_strdup_printf ("%s: stopped, since %s failed (what it made is recorded)",
                                                   s->name, failure->name);
          pool->log (line, pool->log_data);
        }
    }
  if (failure != NULL)
    {
      GError *joined = g_steal_pointer (&failure->error);
      for (guint i = 0; pool->keep_going && i < pool->steps->len; i++)
        {
          Step *s = pool->steps->pdata[i];
          char *message;
          if (s == failure || s->state != STEP_FAILED)
            continue;
          message = g_strdup_printf ("%s; also %s", joined->message, s->error->message);
          g_free (joined->message);
          joined->message = message;
        }
      g_propagate_error (error, joined);
      return FALSE;
    }
  /* Cancelled from outside (Ctrl-C): the first step's cancellation says so. */
  for (guint i = 0; i < pool->steps->len; i++)
    {
      Step *s = pool->steps->pdata[i];
      if (s->state == STEP_FAILED)
        {
          g_propagate_error (error, g_steal_pointer (&s->error));
          return FALSE;
        }
    }
  if (g_cancellable_set_error_if_cancelled (pool->cancellable, error))
    return FALSE;
  return TRUE;
}

gboolean
ferry_pool_succeeded (FerryPool *pool, const char *name)
{
  for (guint i = 0; i < pool->steps->len; i++)
    {
      Step *s = pool->steps->pdata[i];
      if (g_str_equal (s->name, name))
        return s->state == STEP_DONE;
    }
  return FALSE;
}
