"""The neural net: state encoding, move <-> policy index, symmetries, the residual net,
training, and batched inference (a server thread, the evaluator and the neural player).

Modules, one idea each: grid (hex boards on a square grid), encoding, policy, symmetry,
model, device, samples (game records -> shard arrays), train, checkpoint, runner (one
batched forward pass), inference (the server), evaluator (NeuralEvaluator, NeuralPlayer),
selfplay (concurrent neural games). Nothing is imported here, so `import engine` does not
pull in torch.
"""
