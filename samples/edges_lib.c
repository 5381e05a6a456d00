/* The tiny function edges calls through the PLT. */
int edge_tiny(int x) { return x * 3 + 1; }
