// The error of a template that breaks a terraform → protocol conversion rule.
/** A template that breaks one of the conversion rules; the message is the rule's, for the template author. */
export class ConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConversionError";
  }
}
