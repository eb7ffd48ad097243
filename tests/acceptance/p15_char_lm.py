"""Char-level LSTM language model: weight tying, truncated BPTT (detach), multinomial sampling."""

import math


def program(torch):
    nn = torch.nn
    F = torch.nn.functional
    text = "hello world, hello adjit. the quick brown fox jumps over the lazy dog. " * 2
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)

    class LM(nn.Module):
        def __init__(self, vocab, d=12):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.rnn = nn.LSTM(d, d, num_layers=2, dropout=0.2, batch_first=True)
            self.drop = nn.Dropout(0.1)
            self.out = nn.Linear(d, vocab)
            self.out.weight = self.emb.weight  # weight tying

        def forward(self, x, state=None):
            h, state = self.rnn(self.emb(x), state)
            return self.out(self.drop(h)), state

    torch.manual_seed(16)
    model = LM(len(chars))
    n_params = sum(p.numel() for p in model.parameters())
    print("params", n_params, "state_dict entries", len(model.state_dict()))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    batch, bptt = 4, 8
    usable = (len(data) - 1) // batch * batch
    xs = data[:usable].view(batch, -1)
    ys = data[1 : usable + 1].view(batch, -1)
    losses = []
    for epoch in range(2):
        state = None
        total, count = 0.0, 0
        for i in range(0, xs.size(1) - bptt + 1, bptt):
            if state is not None:
                state = tuple(s.detach() for s in state)
            logits, state = model(xs[:, i : i + bptt], state)
            loss = F.cross_entropy(logits.reshape(-1, len(chars)), ys[:, i : i + bptt].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item()
            count += 1
        losses.append(total / count)
        print(f"epoch {epoch} loss {total / count:.4f} ppl {math.exp(total / count):.3f}")
    model.eval()
    g = torch.Generator().manual_seed(0)
    idx = torch.tensor([[stoi["h"]]])
    state, out = None, "h"
    with torch.no_grad():
        for _ in range(20):
            logits, state = model(idx, state)
            probs = F.softmax(logits[:, -1] / 0.8, dim=-1)
            idx = torch.multinomial(probs, 1, generator=g)
            out += chars[idx.item()]
    print(repr(out))
    print(
        model.out.weight is model.emb.weight,
        model.out.weight.data_ptr() == model.emb.weight.data_ptr(),
    )
    return losses
