//! `config::set_logical_device_configuration` splits the CPU; each logical CPU's scope gives its
//! ops cores/n intra-op threads.

use crate::common::{assert_contains, global_rng};
use ferrolab::config::{self, cpu_cores};
use ferrolab::prelude::*;
use ferrolab::state::num_threads;

#[test]
fn the_cpu_splits_into_logical_devices_with_a_share_of_the_cores() {
    let _alone = global_rng();
    config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
    let cpus: Vec<_> = config::list_logical_devices()
        .into_iter()
        .filter(|d| d.device_type == "CPU")
        .collect();
    let names: Vec<&str> = cpus.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["/device:CPU:0", "/device:CPU:1"]);
    let share = (cpu_cores() / 2).max(1);
    assert!(cpus
        .iter()
        .all(|d| d.threads == share && d.device == Device::Cpu));
    // inside a logical device's scope, large ops get its share; outside, every core again
    let all = num_threads();
    assert_eq!(cpus[1].scope(num_threads), share);
    assert_eq!(num_threads(), all);
    // the scopes are per thread: two replicas at once each see their own budget
    let seen = std::thread::scope(|s| {
        let hs: Vec<_> = cpus
            .iter()
            .map(|d| s.spawn(move || d.scope(|| (num_threads(), default_device()))))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(seen, vec![(share, Device::Cpu); 2]);
    // names as tf.device spells them
    assert_eq!(config::logical_device("/cpu:1").unwrap().index, 1);
    let err = config::logical_device("/cpu:2").unwrap_err().to_string();
    assert_contains(&err, &["/device:CPU:1", "set_logical_device_configuration"]);
    config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
    assert_eq!(config::logical_cpu_devices().len(), 1);
    assert_eq!(config::logical_cpu_devices()[0].threads, cpu_cores());
}

#[test]
fn bad_configurations_say_what_to_do() {
    let e = config::set_logical_device_configuration(Device::Cpu, 0).unwrap_err();
    assert_contains(&e.to_string(), &["at least 1"]);
    let e = config::set_logical_device_configuration(Device::Cuda(0), 2).unwrap_err();
    assert_contains(&e.to_string(), &["not supported", "Device::Cpu"]);
}
