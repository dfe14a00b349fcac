//! Model parallelism: a model split into stages, each placed on a (logical) device, trained with
//! GPipe's micro-batches so that the devices work at the same time.
//!
//! ```
//! use ferrolab::prelude::*;
//! use ferrolab::distribute::Pipeline;
//! config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
//! let cpus = config::list_logical_devices();
//! let mut model = Pipeline::new()
//!     .stage(&cpus[0], Sequential::new().add(Dense::new(8).activation("relu")).input_shape([4]))
//!     .stage(&cpus[1], Sequential::new().add(Dense::new(1)).input_shape([8]))
//!     .pipeline(4); // 4 micro-batches per batch
//! model.compile(SGD::new(0.1), "mse", &[]);
//! model.fit(&randn([32, 4]), &randn([32, 1])).batch_size(16).verbose(0).run();
//! config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
//! ```
//!
//! - Placement: a stage's weights and compute live on its device: it runs in the device's scope
//!   (`LogicalDevice::scope`: `with_device` plus the device's share of the cores), and the
//!   activations are copied to the next stage's device (`Tensor::to`; free between logical CPUs,
//!   which share memory).
//! - A training step (GPipe): the batch is cut into `n_micro` micro-batches; every stage runs on
//!   its own thread: all forwards in order (stage s works on micro-batch m while stage s+1 works
//!   on m-1), then all backwards in reverse order. A stage differentiates its output against
//!   the gradient the next stage sends back (`sum(y * dy)`) and sends the gradient of its input
//!   to the previous stage. Each micro-batch's loss is scaled by its share of the batch, so the
//!   accumulated gradients are those of the whole batch: one update, the same as unsplit.
//! - `pipeline(1)` is the plain split: one stage works while the other waits.
//! - [`Pipeline::timeline`] keeps the last step's (stage, micro-batch, phase, start, end), and
//!   [`Pipeline::timeline_grid`] draws it as a stage x time grid (the "bubble" is the zeros).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::autodiff::{GradientTape, Variable};
use crate::config::LogicalDevice;
use crate::keras::layers::Layer;
use crate::keras::losses::Loss;
use crate::keras::models::{compiled_loss, Batch, KerasModel, Logs, TrainingState};
use crate::tensor::{concat, Tensor};

/// One span of work in a pipelined step.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineEvent {
    pub stage: usize,
    pub micro_batch: usize,
    /// `"forward"` or `"backward"`.
    pub phase: &'static str,
    /// Seconds since the step started.
    pub start: f64,
    pub end: f64,
}

/// A model split into stages on devices (see the module docs).
pub struct Pipeline {
    name: String,
    stages: Vec<(LogicalDevice, Arc<dyn Layer>)>,
    n_micro: usize,
    state: TrainingState,
    timeline: Mutex<Vec<PipelineEvent>>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline {
            name: "pipeline".into(),
            stages: Vec::new(),
            n_micro: 1,
            state: TrainingState::default(),
            timeline: Mutex::new(Vec::new()),
        }
    }
    /// Adds the next stage, placed on `device` (build it with `input_shape`, so that its
    /// weights exist before training).
    pub fn stage(mut self, device: &LogicalDevice, layer: impl Layer + 'static) -> Pipeline {
        self.stages.push((device.clone(), Arc::new(layer)));
        self
    }
    /// GPipe's micro-batches per batch (1 = no pipelining).
    pub fn pipeline(mut self, n_micro: usize) -> Pipeline {
        self.n_micro = n_micro.max(1);
        self
    }
    /// The stages' devices, in order.
    pub fn devices(&self) -> Vec<LogicalDevice> {
        self.stages.iter().map(|(d, _)| d.clone()).collect()
    }
    /// The last training step's work spans.
    pub fn timeline(&self) -> Vec<PipelineEvent> {
        self.timeline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// The last step as a (stages, bins) grid: 1 where a stage ran a forward, 2 a backward,
    /// 0 where it waited (the pipeline's bubble). `plot::heatmap(&grid)` draws it.
    pub fn timeline_grid(&self, bins: usize) -> Tensor {
        let events = self.timeline();
        let total = events
            .iter()
            .map(|e| e.end)
            .fold(0.0f64, f64::max)
            .max(1e-12);
        let mut grid = vec![0f32; self.stages.len() * bins];
        for e in &events {
            let (a, b) = (
                (e.start / total * bins as f64) as usize,
                ((e.end / total * bins as f64).ceil() as usize).min(bins),
            );
            for cell in &mut grid[e.stage * bins + a.min(bins)..e.stage * bins + b] {
                *cell = if e.phase == "forward" { 1.0 } else { 2.0 };
            }
        }
        crate::tensor::create::from_vec(grid, [self.stages.len(), bins]).expect("grid")
    }
    /// The fraction of stage-time spent waiting in the last step (GPipe's bubble).
    pub fn bubble_fraction(&self) -> f64 {
        let events = self.timeline();
        let total = events.iter().map(|e| e.end).fold(0.0f64, f64::max);
        if total <= 0.0 {
            return 0.0;
        }
        let busy: f64 = events.iter().map(|e| e.end - e.start).sum();
        1.0 - busy / (total * self.stages.len() as f64)
    }
}

impl Layer for Pipeline {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn class_name(&self) -> &'static str {
        "Pipeline"
    }
    /// The stages one after the other, each on its device (inference and `predict`).
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        assert!(
            !self.stages.is_empty(),
            "Pipeline: add stages with .stage(&device, layer)"
        );
        let mut h = x.clone();
        for (dev, layer) in &self.stages {
            h = dev.scope(|| layer.invoke(&[h.to(dev.device)], training));
        }
        h
    }
    fn weights(&self) -> Vec<Variable> {
        self.stages.iter().flat_map(|(_, l)| l.weights()).collect()
    }
    fn losses(&self) -> Vec<Tensor> {
        self.stages.iter().flat_map(|(_, l)| l.losses()).collect()
    }
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        self.stages.iter().map(|(_, l)| l.clone()).collect()
    }
}

impl KerasModel for Pipeline {
    fn training_state(&mut self) -> &mut TrainingState {
        &mut self.state
    }
    /// GPipe: micro-batches through the stages' threads (see the module docs).
    fn train_step(&mut self, batch: &Batch) -> Logs {
        assert!(
            batch.x.len() == 1 && batch.y.len() == 1,
            "Pipeline trains models with one input and one output"
        );
        let losses = std::mem::take(&mut self.state.losses);
        let out = pipelined_step(&self.stages, self.n_micro, &losses, batch);
        self.state.losses = losses;
        let out = out.unwrap_or_else(|msg| panic!("{msg}"));
        *self.timeline.lock().unwrap_or_else(|e| e.into_inner()) = out.events;
        let vars: Vec<Variable> = self
            .stages
            .iter()
            .flat_map(|(_, l)| l.trainable_weights())
            .collect();
        let opt = self
            .state
            .optimizer()
            .expect("You must call compile() before fit()");
        opt.apply_gradients(&out.grads, &vars.iter().collect::<Vec<_>>());
        self.state.update_loss(out.loss, batch.len());
        self.compute_metrics(batch, &[out.y_pred])
    }
}

/// What a pipelined step gives back.
struct StepOut {
    /// The gradients of every stage's trainable weights, in stage order.
    grads: Vec<Option<Tensor>>,
    loss: f32,
    y_pred: Tensor,
    events: Vec<PipelineEvent>,
}

/// What one stage's thread gives back.
struct StageOut {
    grads: Vec<Option<Tensor>>,
    loss: f32,
    y_pred: Vec<Tensor>,
    events: Vec<PipelineEvent>,
}

/// The message a stage panics with when a neighbour stopped first (not the cause).
const NEIGHBOUR_STOPPED: &str = "Pipeline: a neighbouring stage stopped";

fn pipelined_step(
    stages: &[(LogicalDevice, Arc<dyn Layer>)],
    n_micro: usize,
    losses: &[Box<dyn Loss>],
    batch: &Batch,
) -> Result<StepOut, String> {
    let n = batch.len();
    let s_count = stages.len();
    assert!(
        s_count > 0,
        "Pipeline: add stages with .stage(&device, layer)"
    );
    let m_count = n_micro.min(n).max(1);
    let micro: Vec<(usize, usize)> = {
        let (base, extra) = (n / m_count, n % m_count);
        let mut start = 0;
        (0..m_count)
            .map(|i| {
                let len = base + usize::from(i < extra);
                start += len;
                (start - len, len)
            })
            .collect()
    };
    // fwd[s]: stage s -> s + 1 activations; bwd[s]: stage s + 1 -> s output gradients
    let (mut fwd_tx, mut fwd_rx): (Vec<_>, Vec<_>) = (0..s_count.saturating_sub(1))
        .map(|_| mpsc::channel::<(usize, Tensor)>())
        .map(|(t, r)| (Some(t), Some(r)))
        .unzip();
    let (mut bwd_tx, mut bwd_rx): (Vec<_>, Vec<_>) = (0..s_count.saturating_sub(1))
        .map(|_| mpsc::channel::<(usize, Tensor)>())
        .map(|(t, r)| (Some(t), Some(r)))
        .unzip();
    let t0 = Instant::now();
    let results: Vec<Result<StageOut, String>> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (s, (dev, layer)) in stages.iter().enumerate() {
            let send_next = if s + 1 < s_count {
                fwd_tx[s].take()
            } else {
                None
            };
            let recv_prev = if s > 0 { fwd_rx[s - 1].take() } else { None };
            let send_prev = if s > 0 { bwd_tx[s - 1].take() } else { None };
            let recv_next = if s + 1 < s_count {
                bwd_rx[s].take()
            } else {
                None
            };
            let micro = &micro;
            let last = s + 1 == s_count;
            let h = std::thread::Builder::new()
                .name(format!("ferrolab-stage-{s}"))
                .spawn_scoped(scope, move || {
                    crate::state::catch_quietly(|| {
                        dev.scope(|| {
                            let io = StageIo {
                                send_next,
                                recv_prev,
                                send_prev,
                                recv_next,
                            };
                            run_stage(s, last, &**layer, io, micro, batch, losses, n, t0)
                        })
                    })
                })
                .expect("spawn a pipeline stage thread");
            handles.push(h);
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panic".into())))
            .collect()
    });
    let mut outs = Vec::new();
    let mut errors = Vec::new();
    for (s, r) in results.into_iter().enumerate() {
        match r {
            Ok(o) => outs.push(o),
            Err(msg) => errors.push(format!(
                "Pipeline: stage {s} ({}) panicked: {msg}",
                stages[s].0.name
            )),
        }
    }
    // report the cause, not the neighbours that stopped because of it
    if let Some(e) = errors
        .iter()
        .find(|e| !e.contains(NEIGHBOUR_STOPPED))
        .or(errors.first())
    {
        return Err(e.clone());
    }
    let y_pred = concat(&outs[s_count - 1].y_pred.iter().collect::<Vec<_>>(), 0);
    Ok(StepOut {
        loss: outs.iter().map(|o| o.loss).sum(),
        events: outs.iter().flat_map(|o| o.events.clone()).collect(),
        grads: outs.into_iter().flat_map(|o| o.grads).collect(),
        y_pred,
    })
}

/// A stage's channels to its neighbours.
struct StageIo {
    send_next: Option<mpsc::Sender<(usize, Tensor)>>,
    recv_prev: Option<mpsc::Receiver<(usize, Tensor)>>,
    send_prev: Option<mpsc::Sender<(usize, Tensor)>>,
    recv_next: Option<mpsc::Receiver<(usize, Tensor)>>,
}

fn recv(rx: &mpsc::Receiver<(usize, Tensor)>) -> (usize, Tensor) {
    rx.recv().unwrap_or_else(|_| panic!("{NEIGHBOUR_STOPPED}"))
}

/// One stage's forwards (in order) then backwards (in reverse order), on its own thread.
#[allow(clippy::too_many_arguments)]
fn run_stage(
    s: usize,
    last: bool,
    layer: &dyn Layer,
    io: StageIo,
    micro: &[(usize, usize)],
    batch: &Batch,
    losses: &[Box<dyn Loss>],
    n: usize,
    t0: Instant,
) -> StageOut {
    let dev = crate::runtime::default_device();
    let vars = layer.trainable_weights();
    let m_count = micro.len();
    // one tape per micro-batch; while one records, the others are paused
    let tapes: Vec<GradientTape> = (0..m_count).map(|_| GradientTape::new()).collect();
    let only = |m: usize| -> Vec<_> {
        tapes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != m)
            .map(|(_, t)| t.stop_recording())
            .collect()
    };
    let mut events = Vec::new();
    let mut saved: Vec<Option<(Tensor, Tensor)>> = vec![None; m_count];
    let mut loss_total = 0f32;
    let mut y_pred = Vec::new();
    let now = || t0.elapsed().as_secs_f64();
    for m in 0..m_count {
        let (start, len) = micro[m];
        let x = match &io.recv_prev {
            None => batch.x[0].narrow(0, start, len),
            Some(rx) => {
                let (mm, x) = recv(rx);
                debug_assert_eq!(mm, m);
                x
            }
        }
        .to(dev);
        let begin = now();
        let _paused = only(m);
        if s > 0 {
            tapes[m].watch(&x);
        }
        let y = layer.invoke(std::slice::from_ref(&x), true);
        let out = if last {
            // the micro-batch's share of the batch's mean loss; the penalties once
            let target = batch.y[0].narrow(0, start, len).to(dev);
            let mut l = compiled_loss(losses, &[target], std::slice::from_ref(&y))
                * (len as f64 / n as f64);
            if m == 0 {
                for r in layer.losses() {
                    l = l + r;
                }
            }
            loss_total += l.item();
            y_pred.push(y.stop_gradient());
            l
        } else {
            if let Some(tx) = &io.send_next {
                tx.send((m, y.stop_gradient()))
                    .unwrap_or_else(|_| panic!("{NEIGHBOUR_STOPPED}"));
            }
            y
        };
        saved[m] = Some((x, out));
        events.push(PipelineEvent {
            stage: s,
            micro_batch: m,
            phase: "forward",
            start: begin,
            end: now(),
        });
    }
    drop(io.send_next);
    let mut grads: Vec<Option<Tensor>> = vec![None; vars.len()];
    for _ in 0..m_count {
        // the last stage goes in reverse order; the others in the order gradients arrive
        let (m, dy) = match &io.recv_next {
            None => (
                m_count - 1 - events.iter().filter(|e| e.phase == "backward").count(),
                None,
            ),
            Some(rx) => {
                let (m, dy) = recv(rx);
                (m, Some(dy))
            }
        };
        let begin = now();
        let (x, out) = saved[m].take().expect("one backward per micro-batch");
        let _paused = only(m);
        let target = match dy {
            None => out,
            Some(dy) => {
                let mut t = (out * dy.to(dev)).sum();
                if m == 0 {
                    for r in layer.losses() {
                        loss_total += r.item();
                        t = t + r;
                    }
                }
                t
            }
        };
        let mut sources: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
        if s > 0 {
            sources.push(&x);
        }
        let mut g = tapes[m].gradient_vec(&target, &sources);
        if s > 0 {
            let dx = g.pop().flatten().unwrap_or_else(|| x.zeros_like());
            if let Some(tx) = &io.send_prev {
                tx.send((m, dx))
                    .unwrap_or_else(|_| panic!("{NEIGHBOUR_STOPPED}"));
            }
        }
        for (acc, gi) in grads.iter_mut().zip(g) {
            *acc = match (acc.take(), gi) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        events.push(PipelineEvent {
            stage: s,
            micro_batch: m,
            phase: "backward",
            start: begin,
            end: now(),
        });
    }
    StageOut {
        grads,
        loss: loss_total,
        y_pred,
        events,
    }
}
