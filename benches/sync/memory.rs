//! Peak RSS of the daemon while it moves one big file each way. Each direction gets a
//! fresh process so the high-water mark (VmHWM) of one does not hide the other.

use crate::Sizes;
use crate::harness::{DEADLINE, Daemon, Env, MODULE, content, wait_until};
use crate::procfs::vm_field;
use crate::report::{Row, failed, mib};
use anyhow::{Result, bail};
use bigin_sync::model::Product;
use bigin_sync::sandbox::{Route, SandboxOptions};

const UP: &str = "2034020000000300001";
const DOWN: &str = "2034020000000300002";
const HEADROOM: u64 = 32 * 1024 * 1024;

pub async fn run(sizes: &Sizes) -> Vec<Row> {
    match measure(sizes).await {
        Ok(rows) => rows,
        Err(e) => vec![failed("memory", &e)],
    }
}

/// Starts a daemon and waits until its start-up polls of `records` records are done;
/// returns it with its idle high-water mark and RSS.
async fn idle_daemon(env: &Env, records: u64) -> Result<(Daemon, u64, u64)> {
    let lists0 = env.calls(Route::List);
    let d = env.spawn_daemon()?;
    d.wait_ready().await?;
    if !wait_until(DEADLINE, || env.calls(Route::List) >= lists0 + records).await {
        bail!("start-up polls never happened; log:\n{}", d.log_tail());
    }
    let pid = d.pid();
    Ok((d, vm_field(pid, "VmHWM:")?, vm_field(pid, "VmRSS:")?))
}

fn row(what: &str, size: usize, idle_hwm: u64, idle_rss: u64, peak: u64) -> Row {
    let limit = idle_hwm + HEADROOM;
    Row::new(
        format!("peak RSS while {what} one {} file", mib(size as u64)),
        format!(
            "{} (+{} over idle)",
            mib(peak),
            mib(peak.saturating_sub(idle_hwm))
        ),
    )
    .target(format!(
        "idle {} (RSS {}) + 32 MiB = {}",
        mib(idle_hwm),
        mib(idle_rss),
        mib(limit)
    ))
    .ratio(peak.saturating_sub(idle_hwm) as f64 / HEADROOM as f64)
    .pass(peak <= limit)
}

async fn measure(sizes: &Sizes) -> Result<Vec<Row>> {
    let opts = SandboxOptions {
        max_upload_bytes: (sizes.big_file_bytes as u64) * 2,
        ..SandboxOptions::default()
    };
    let env = Env::new(
        opts,
        "debounce = \"200ms\"\npoll_interval = \"1s\"\npoll_interval_max = \"2s\"",
    )
    .await?;
    let up_dir = env.record(UP)?;
    let body = content(42, sizes.big_file_bytes);

    let (mut d, idle_hwm, idle_rss) = idle_daemon(&env, 1).await?;
    let staging = env.tmp.path().join("big.bin");
    std::fs::write(&staging, &body)?;
    std::fs::rename(&staging, up_dir.join("big.bin"))?;
    if !wait_until(DEADLINE, || env.remote_count(UP) == 1).await {
        bail!("the big file was never uploaded; log:\n{}", d.log_tail());
    }
    let up_peak = vm_field(d.pid(), "VmHWM:")?;
    d.stop().await?;
    let up_row = row(
        "uploading",
        sizes.big_file_bytes,
        idle_hwm,
        idle_rss,
        up_peak,
    );

    let down_dir = env.record(DOWN)?;
    let (mut d, idle_hwm, idle_rss) = idle_daemon(&env, 2).await?;
    let id = env
        .sandbox
        .add_file(Product::Bigin, MODULE, DOWN, "big.bin", body);
    let target = down_dir.join("big.bin");
    let want = sizes.big_file_bytes as u64;
    if !wait_until(DEADLINE, || {
        std::fs::metadata(&target).is_ok_and(|m| m.len() == want)
    })
    .await
    {
        bail!(
            "attachment {id} was never downloaded; log:\n{}",
            d.log_tail()
        );
    }
    let down_peak = vm_field(d.pid(), "VmHWM:")?;
    d.stop().await?;
    Ok(vec![
        up_row,
        row(
            "downloading",
            sizes.big_file_bytes,
            idle_hwm,
            idle_rss,
            down_peak,
        ),
    ])
}
