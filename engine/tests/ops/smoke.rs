use ferrolab::prelude::*;

#[test]
fn smoke() {
    let _g = crate::common::global_rng(); // randn below draws from the global generator
    let x = tensor([[1.0, 2.0], [3.0, 4.0]]);
    println!("{x}");
    let y = x.matmul(&x);
    assert_eq!(y.to_vec::<f32>(), vec![7.0, 10.0, 15.0, 22.0]);
    let w = Variable::new(ones([2, 1]));
    let tape = GradientTape::new();
    let loss = x.matmul(&w).square().mean();
    let [dw] = tape.gradient(&loss, [&w]);
    // loss = mean((xw)^2) ; xw = [3,7]; dL/dw = x^T (2 xw / 2) = [[1,3],[2,4]] @ [3,7] = [24, 34]
    assert_eq!(dw.unwrap().to_vec::<f32>(), vec![24.0, 34.0]);
    let s = x.slice(s![.., 1]);
    assert_eq!(s.to_vec::<f32>(), vec![2.0, 4.0]);
    println!("{}", randn([3, 4]));
    println!("{}", arange(0.0, 2000.0, 1.0).reshape([20, 100]));
    println!("{}", tensor([0.1, 0.25, 100.0]));
    println!("{}", tensor([1e-6, 1.0]));
    println!("{}", tensor([true, false]));
    println!("{}", tensor([1, 20, 300]));
    println!("{}", tensor(3.5));
    println!("{}", zeros([2, 2, 2]));
}
