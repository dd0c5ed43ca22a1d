//! The threads that compute password hashes: a fixed set of their own, fed over a channel,
//! running at a lower scheduling priority than the threads that serve requests (on Linux), so
//! that a login flood takes the CPU only when nothing else wants it.

use crate::error::{Error, Result};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of hashing threads. They end when the pool is dropped (after the job each
/// is running, if any).
pub(crate) struct HashPool {
    jobs: Sender<Job>,
}

impl HashPool {
    /// `threads` threads, each `nice` steps below the priority the process runs at (Linux;
    /// 0 keeps it, and other systems ignore it).
    pub(crate) fn new(threads: usize, nice: u8) -> Result<Self> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("delegate-hash-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    work(&queue);
                })
                .map_err(|e| Error::internal("starting a hashing thread").with_source(e))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on a hashing thread and waits (asynchronously) for its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::internal("the hashing threads have stopped"))?;
        result
            .await
            .map_err(|_| Error::internal("a hashing task ended abnormally"))
    }
}

/// Runs jobs until the pool is dropped. A job that panics loses its result (its caller gets
/// an error), not the thread.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let next = queue.lock().map(|queue| queue.recv());
        let Ok(Ok(job)) = next else { return };
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Moves the calling thread `nice` steps down (a higher nice value), at most to 19. At 19,
/// the lowest, it runs under `SCHED_IDLE` instead: the kernel's policy for background work,
/// which a waking thread of any other policy preempts at once (at nice 19 a hash still
/// finishes its time slice first), so a request waits for no hash.
#[cfg(target_os = "linux")]
fn lower_priority(nice: u8) {
    use rustix::process::{getpriority_process, setpriority_process};
    use thread_priority::ThreadPriority;
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    if nice == 0 {
        return;
    }
    if nice >= 19 {
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = ?e, "could not run the hashing thread as SCHED_IDLE"),
        }
    }
    let thread = Some(rustix::thread::gettid());
    let lowered = getpriority_process(thread)
        .and_then(|now| setpriority_process(thread, (now + i32::from(nice)).min(19)));
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "could not lower the hashing thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: u8) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_lowered_threads_and_a_panic_keeps_the_thread() {
        let pool = HashPool::new(1, 5).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("delegate-hash-0"));
        #[cfg(target_os = "linux")]
        {
            let process = rustix::process::getpriority_process(None).unwrap();
            let thread = pool
                .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(thread, (process + 5).min(19));
        }
        let panicked = pool.run(|| -> u8 { panic!("a hash went wrong") }).await;
        assert!(panicked.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7, "the thread survived");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn at_the_lowest_priority_jobs_run_under_sched_idle() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let policy = HashPool::new(1, 19)
            .unwrap()
            .run(|| thread_schedule_policy().unwrap())
            .await
            .unwrap();
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        let here = thread_schedule_policy().unwrap();
        assert_eq!(
            here,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)
        );
    }
}
