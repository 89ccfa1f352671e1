// Pure logic of the delivery side (routing, MX ordering, classification, retry schedule).
export {};
