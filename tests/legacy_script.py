"""A script written for torchsummary, left as such: run it through `torchsummary-plus run`.

Usage: legacy_script.py EXIT_CODE. It summarizes one conv called twice (9 parameters shown
twice), prints its sys.argv and __name__, and exits with EXIT_CODE.
"""
import sys

import torch.nn as nn
from torchsummary import summary
from torchsummary.torchsummary import summary as inner_summary
import torchsummary


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(self.conv(x))


if __name__ == "__main__":
    summary(Twice(), (1, 8, 8), device="cpu")
    print("same function:", summary is inner_summary is torchsummary.summary)
    print("argv:", sys.argv[1:])
    sys.exit(int(sys.argv[1]))
