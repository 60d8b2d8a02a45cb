/* The compute-bound program of the wasm benchmark (issue 12): xorshift fill
 * and shell sort of 64 Ki integers, 40 rounds. Built natively (main) and
 * for wasm32 -nostdlib (entrypoint); both return the same checksum. */
#define N      65536
#define ROUNDS 40

static unsigned data[N];

static unsigned run(void)
{
    unsigned state = 2463534242u, checksum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            data[i] = state;
        }
        for (int gap = N / 2; gap > 0; gap /= 2)
            for (int i = gap; i < N; i++) {
                unsigned v = data[i];
                int j = i;
                for (; j >= gap && data[j - gap] > v; j -= gap)
                    data[j] = data[j - gap];
                data[j] = v;
            }
        checksum = checksum * 31 + data[N / 2] + data[0];
    }
    return checksum & 0x7fffffff;
}

#ifdef NATIVE
#include <stdio.h>
int main(void)
{
    printf("%u\n", run());
    return 0;
}
#else
int entrypoint(int argc, char **argv)
{
    return (int)run();
}
#endif
