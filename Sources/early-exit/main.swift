print("early-exit: not yet")
