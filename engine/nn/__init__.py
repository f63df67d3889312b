"""The neural net: state encoding, move <-> policy index, symmetries, the residual net,
training, and batched inference (a server thread, the evaluator and the neural player).

Modules (one idea each): grid (hex boards on a square grid), encoding, policy, symmetry,
model, device, samples (game records -> shard arrays), train, checkpoint, inference,
evaluator (NeuralEvaluator, NeuralPlayer), selfplay (concurrent neural games).
Only torch-free modules are imported eagerly here, so `import engine` stays light.
"""
