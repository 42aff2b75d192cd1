# Networks: the whole training epoch, predict and loss+gradient (see models.py).
