"""LSTM/GRU sequence classifier: Embedding(padding_idx), pack_padded_sequence, clip_grad_norm_."""


def program(torch):
    nn = torch.nn
    rnn_utils = torch.nn.utils.rnn

    class SeqModel(nn.Module):
        def __init__(self, vocab=12, emb=6, hidden=8):
            super().__init__()
            self.emb = nn.Embedding(vocab, emb, padding_idx=0)
            self.lstm = nn.LSTM(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(2 * hidden, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 2)

        def forward(self, tokens, lengths):
            e = self.emb(tokens)
            packed = rnn_utils.pack_padded_sequence(
                e, lengths, batch_first=True, enforce_sorted=False
            )
            out, (h, c) = self.lstm(packed)
            padded, lens = rnn_utils.pad_packed_sequence(out, batch_first=True)
            packed2 = rnn_utils.pack_padded_sequence(
                padded, lens, batch_first=True, enforce_sorted=False
            )
            _, h2 = self.gru(packed2)
            return self.head(h2[-1])

    torch.manual_seed(2)
    model = SeqModel()
    print(model)
    print([(n, tuple(p.shape)) for n, p in model.named_parameters()])
    lengths = torch.tensor([5, 3, 4, 2, 5, 1])
    tokens = torch.randint(1, 12, (6, 5))
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    tokens = tokens * mask
    labels = (tokens.sum(1) % 2).long()
    print(tokens)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
    losses = []
    for step in range(4):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(tokens, lengths), labels)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        opt.step()
        losses.append(loss.item())
        print(f"step {step} loss {loss.item():.4f} grad_norm {norm.item():.4f}")
    print("padding row grad", model.emb.weight.grad[0])
    return losses
