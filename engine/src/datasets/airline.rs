//! Monthly totals of international airline passengers, January 1949 to December 1960, in
//! thousands: the classic seasonal series with a trend (144 values).
//!
//! Source: Box, G. E. P. and Jenkins, G. M. (1976), *Time Series Analysis: Forecasting and
//! Control*, Series G; also R's `AirPassengers`. The values sum to 40,363.

use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

/// The 144 monthly values, one row per year (1949..=1960), January first.
pub const AIRLINE_PASSENGERS: [u16; 144] = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, // 1949
    115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140, // 1950
    145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166, // 1951
    171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194, // 1952
    196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201, // 1953
    204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229, // 1954
    242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278, // 1955
    284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306, // 1956
    315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336, // 1957
    340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337, // 1958
    360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405, // 1959
    417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432, // 1960
];

/// The series as float32 (144,), in thousands of passengers.
pub fn airline_passengers() -> Tensor {
    let v: Vec<f32> = AIRLINE_PASSENGERS.iter().map(|&p| p as f32).collect();
    from_vec(v, [144]).expect("144 values")
}

/// The month of each value as `"1949-01"` .. `"1960-12"`.
pub fn airline_months() -> Vec<String> {
    (0..144)
        .map(|i| format!("{}-{:02}", 1949 + i / 12, i % 12 + 1))
        .collect()
}
